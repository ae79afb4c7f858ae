/**
 * Per-thread string caches for header names and short header values. A
 * keep-alive client sends the same `Host`, `User-Agent` and `Accept` on every
 * request; returning the cached string (after a byte-exact check) saves two
 * string allocations per header on the hot path.
 * Thread: the module instance of each thread (workers load their own). Owns the caches.
 */

const NAME_SLOTS = 512;
const VALUE_SLOTS = 1024;
/** Values longer than this are not worth a cache slot (cookies, tokens). */
export const MAX_INTERNED_VALUE = 64;

const names: (string | undefined)[] = new Array(NAME_SLOTS).fill(undefined);
const values: (string | undefined)[] = new Array(VALUE_SLOTS).fill(undefined);

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string })
  .latin1Slice;

/**
 * The lowercased header name of bytes [start, end) (already validated as a
 * token). `hash` is the caller's running hash of the lowercased bytes.
 */
export function internName(data: Uint8Array, start: number, end: number, hash: number, hasUpper: boolean): string {
  const slot = hash & (NAME_SLOTS - 1);
  const cached = names[slot];
  const len = end - start;
  if (cached !== undefined && cached.length === len) {
    let i = 0;
    for (; i < len; i++) {
      let c = data[start + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (cached.charCodeAt(i) !== c) break;
    }
    if (i === len) return cached;
  }
  let s = latin1Slice.call(data, start, end);
  if (hasUpper) s = s.toLowerCase();
  names[slot] = s;
  return s;
}

/** The header value of bytes [start, end) exactly as sent (latin1), cached when short. */
export function internValue(data: Uint8Array, start: number, end: number, hash: number): string {
  const len = end - start;
  if (len > MAX_INTERNED_VALUE) return latin1Slice.call(data, start, end);
  const slot = hash & (VALUE_SLOTS - 1);
  const cached = values[slot];
  if (cached !== undefined && cached.length === len) {
    let i = 0;
    for (; i < len; i++) if (cached.charCodeAt(i) !== data[start + i]) break;
    if (i === len) return cached;
  }
  const s = latin1Slice.call(data, start, end);
  values[slot] = s;
  return s;
}

/** The request-target, cached when short: benchmarks and health checks repeat the same few paths. */
export function internTarget(data: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len > MAX_INTERNED_VALUE) return latin1Slice.call(data, start, end);
  let h = len;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + data[i]!) | 0;
  return internValue(data, start, end, h ^ (h >>> 11));
}
