/**
 * permessage-deflate (RFC 7692): offer negotiation, and the compressor and
 * decompressor a connection uses. Compression runs synchronously on the loop
 * thread through zlib's native handle (Node's sync one-shot helpers cannot
 * keep a window between messages); the decompressor stops at a byte cap, so a
 * small frame that inflates to gigabytes (a bomb) costs at most the cap.
 * Thread: the loop thread that made the codec. Owns its zlib streams.
 */
import zlib from 'node:zlib';
import type { CompressionMode } from './options.js';

/** What was agreed for one connection. */
export interface DeflateParams {
  /** We reset our compressor after every message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message, so ours may be reset too. */
  clientNoContextTakeover: boolean;
  /** Window of our compressor (the client may ask for less than 15). */
  serverMaxWindowBits: number;
}

/** The extension offers of a Sec-WebSocket-Extensions value: name and parameters, in order. */
export function parseExtensions(value: string): { name: string; params: [string, string | true][] }[] | null {
  const out: { name: string; params: [string, string | true][] }[] = [];
  for (const ext of value.split(',')) {
    const parts = ext.split(';').map((s) => s.trim());
    const name = parts[0] ?? '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return null;
    const params: [string, string | true][] = [];
    for (const p of parts.slice(1)) {
      const eq = p.indexOf('=');
      if (eq < 0) params.push([p.toLowerCase(), true]);
      else params.push([p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')]);
    }
    out.push({ name: name.toLowerCase(), params });
  }
  return out;
}

function windowBits(v: string | true): number {
  if (v === true || !/^(8|9|1[0-5])$/.test(v)) return -1;
  return Number(v);
}

/**
 * Picks the first permessage-deflate offer we can honour and the response for it, or null
 * (compression off for this connection). An offer with an unknown, repeated or malformed
 * parameter is declined (RFC 7692 5.1).
 */
export function negotiateDeflate(header: string, mode: CompressionMode): { params: DeflateParams; response: string } | null {
  if (!codecsAvailable) return null;
  const offers = parseExtensions(header);
  if (offers === null) return null;
  next: for (const o of offers) {
    if (o.name !== 'permessage-deflate') continue;
    const seen = new Set<string>();
    let serverNo = false;
    let clientNo = false;
    let serverBits = 15;
    for (const [k, v] of o.params) {
      if (seen.has(k)) continue next;
      seen.add(k);
      if (k === 'server_no_context_takeover' && v === true) serverNo = true;
      else if (k === 'client_no_context_takeover' && v === true) clientNo = true;
      else if (k === 'server_max_window_bits') {
        serverBits = windowBits(v);
        // zlib cannot make a raw stream with a 256-byte window (it silently uses 512).
        if (serverBits < 9) continue next;
      } else if (k === 'client_max_window_bits') {
        if (v !== true && windowBits(v) < 0) continue next;
      } else continue next;
    }
    if (mode === 'shared') {
      // One context per loop, reset every message: both sides must start each message afresh.
      // A server may ask the client for client_no_context_takeover whether it offered it or not (7.1.1.2).
      serverNo = true;
      clientNo = true;
    }
    let response = 'permessage-deflate';
    if (serverNo) response += '; server_no_context_takeover';
    if (clientNo) response += '; client_no_context_takeover';
    if (seen.has('server_max_window_bits')) response += `; server_max_window_bits=${serverBits}`;
    return { params: { serverNoContextTakeover: serverNo, clientNoContextTakeover: clientNo, serverMaxWindowBits: serverBits }, response };
  }
  return null;
}

// ---- codecs ------------------------------------------------------------------

/** The parts of a zlib stream this module drives (Node's own sync path uses the same). */
interface ZlibInternals {
  _handle: { writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void; } | null;
  _writeState: Uint32Array;
  destroyed: boolean;
  reset(): void;
  close(): void;
  on(ev: 'error', fn: (err: unknown) => void): void;
}

const probe = zlib.createDeflateRaw() as unknown as ZlibInternals;
/** Node versions without a sync-writable handle get no compression (negotiation declines) rather than a crash. */
const codecsAvailable = typeof probe._handle?.writeSync === 'function' && probe._writeState instanceof Uint32Array;
probe.close();

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const { Z_SYNC_FLUSH } = zlib.constants;

export class InflateTooBig extends Error {}
export class InflateBroken extends Error {}

function make(kind: 'inflate' | 'deflate', bits: number): ZlibInternals {
  const z = (kind === 'inflate' ? zlib.createInflateRaw({ windowBits: 15 }) : zlib.createDeflateRaw({ windowBits: bits, memLevel: 8 })) as unknown as ZlibInternals;
  z.on('error', () => undefined); // reported synchronously below; the stream's own 'error' event must not crash the thread
  return z;
}

/**
 * Runs input through z with a sync flush. Output is gathered in chunks; past `max` bytes the
 * stream is abandoned (InflateTooBig). A zlib error closes z (InflateBroken).
 */
function run(z: ZlibInternals, parts: readonly Uint8Array[], max: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const st = z._writeState;
  for (const input of parts) {
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      const h = z._handle;
      if (h === null || z.destroyed) throw new InflateBroken('invalid compressed data');
      const out = Buffer.allocUnsafe(total < 16384 ? 16384 : 65536);
      h.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, out, 0, out.length);
      if (z._handle === null || z.destroyed) throw new InflateBroken('invalid compressed data');
      const availOut = st[0]!;
      const availIn = st[1]!;
      const have = out.length - availOut;
      if (have > 0) {
        total += have;
        if (total > max) throw new InflateTooBig('message too big after decompression');
        chunks.push(out.subarray(0, have));
      }
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut !== 0) break; // all input taken and flushed (bytes after a final block are ignored)
    }
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** Compresses and decompresses whole messages for one connection (or, shared, for a whole loop). */
export class DeflateCodec {
  private inflater: ZlibInternals | null = null;
  private deflater: ZlibInternals | null = null;

  constructor(
    private readonly resetIn: boolean,
    private readonly resetOut: boolean,
    private readonly outBits: number,
  ) {}

  static forParams(p: DeflateParams): DeflateCodec {
    return new DeflateCodec(p.clientNoContextTakeover, p.serverNoContextTakeover, p.serverMaxWindowBits);
  }

  /** The message's payload (the frames' bytes, in order) inflated; throws InflateTooBig past max, InflateBroken on bad data. */
  inflate(parts: readonly Uint8Array[], max: number): Buffer {
    const z = (this.inflater ??= make('inflate', 15));
    try {
      const out = run(z, [...parts, TAIL], max);
      if (this.resetIn) z.reset();
      return out;
    } catch (err) {
      // Either way the stream is spent (closed by zlib, or stopped mid-message).
      z.close();
      this.inflater = null;
      throw err;
    }
  }

  /** The payload compressed, without the final 00 00 ff ff (RFC 7692 7.2.1). */
  deflate(payload: Uint8Array): Uint8Array {
    const z = (this.deflater ??= make('deflate', this.outBits));
    const out = run(z, [payload], Infinity);
    if (this.resetOut) z.reset();
    return out.length >= 4 ? out.subarray(0, out.length - 4) : out;
  }

  close(): void {
    this.inflater?.close();
    this.deflater?.close();
    this.inflater = this.deflater = null;
  }
}

/** Memory per connection or per loop, depending on the mode. */
export function codecFor(mode: CompressionMode, p: DeflateParams, shared: Map<number, DeflateCodec>): DeflateCodec {
  if (mode !== 'shared') return DeflateCodec.forParams(p);
  let c = shared.get(p.serverMaxWindowBits);
  if (c === undefined) shared.set(p.serverMaxWindowBits, (c = DeflateCodec.forParams(p)));
  return c;
}
