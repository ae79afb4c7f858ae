/**
 * Parser limits. Every one is an option of `serve()`; the defaults are close
 * to nginx's and Node's so that a request accepted by them is accepted here.
 * Thread: any. Owns nothing.
 */
export interface ParserLimits {
  /** Longest request line (method, target, version) in bytes; beyond it: 414. */
  maxRequestLineBytes: number;
  /** Total bytes of the header section (and, separately, of the trailer section); beyond it: 431. */
  maxHeaderBytes: number;
  /** Most header (or trailer) fields; beyond it: 431. */
  maxHeaderCount: number;
  /** Largest request body, declared or received; beyond it: 413. `Infinity` disables the check. */
  maxBodyBytes: number;
  /** Longest chunk-size line including its extensions; also the budget for all extensions of one body: 400. */
  maxChunkExtensionBytes: number;
}

export const defaultLimits: Readonly<ParserLimits> = Object.freeze({
  maxRequestLineBytes: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodyBytes: 16 * 1024 * 1024,
  maxChunkExtensionBytes: 1024,
});

/** Merges user limits over the defaults and rejects nonsense early, with the option's name. */
export function resolveLimits(user: Partial<ParserLimits> | undefined): ParserLimits {
  const out: ParserLimits = { ...defaultLimits };
  if (!user) return out;
  for (const key of Object.keys(defaultLimits) as (keyof ParserLimits)[]) {
    const v = user[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v) || v < 1) {
      throw new RangeError(`http limit ${key} must be a positive number, got ${String(v)}`);
    }
    out[key] = v;
  }
  return out;
}
