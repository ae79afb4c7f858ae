import { isUtf8 } from 'node:buffer';

/**
 * A streaming UTF-8 validator: bytes may arrive split anywhere (across TCP
 * reads and across the fragments of one message), and the first byte that can
 * never be part of valid UTF-8 is reported at once (fail fast, RFC 6455 8.1).
 * Overlongs, surrogates (U+D800..DFFF) and code points above U+10FFFF are
 * invalid (RFC 3629).
 * Thread: the loop thread of its connection. Owns three integers of state.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  private need = 0;
  /** Bounds of the next continuation byte (narrower right after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;

  /** False at the first invalid byte; the validator is then spent until reset(). */
  feed(b: Uint8Array, start: number, end: number): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    while (i < end) {
      const c = b[i++]!;
      if (need === 0) {
        if (c < 0x80) continue;
        if (c < 0xc2) return false; // a stray continuation byte, or an overlong 2-byte lead
        if (c < 0xe0) {
          need = 1;
        } else if (c < 0xf0) {
          need = 2;
          lo = c === 0xe0 ? 0xa0 : 0x80;
          hi = c === 0xed ? 0x9f : 0xbf;
        } else if (c < 0xf5) {
          need = 3;
          lo = c === 0xf0 ? 0x90 : 0x80;
          hi = c === 0xf4 ? 0x8f : 0xbf;
        } else {
          return false;
        }
      } else {
        if (c < lo || c > hi) return false;
        need--;
        lo = 0x80;
        hi = 0xbf;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }

  /** True when no code point is left half-finished (a message may end here). */
  get complete(): boolean {
    return this.need === 0;
  }

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }
}

/** Buffer's own range decoders (undocumented but stable since Node 0.x): a string from a range, no view allocated. */
interface NodeBufferSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Text shorter than this is checked for ASCII by a loop (cheaper than a native call), then copied as latin1. */
const ASCII_SCAN = 128;

/**
 * A Buffer over the same memory as the last input decoded, kept per thread: the reactor's
 * read buffer is one array reused for every read, so this is one view per thread, not one
 * per message.
 */
let lastInput: Uint8Array | null = null;
let lastView: Buffer | null = null;

function bufferOf(d: Uint8Array): Buffer & NodeBufferSlices {
  if (d !== lastInput || lastView === null) {
    lastView = globalThis.Buffer.isBuffer(d) ? d : globalThis.Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    lastInput = d;
  }
  return lastView as Buffer & NodeBufferSlices;
}

/** The text of d[s, e), or null when it is not valid UTF-8. One string allocated, nothing else. */
export function decodeUtf8(d: Uint8Array, s: number, e: number): string | null {
  if (e - s <= ASCII_SCAN) {
    let i = s;
    while (i < e && d[i]! < 0x80) i++;
    if (i === e) return bufferOf(d).latin1Slice(s, e);
  }
  const b = bufferOf(d);
  if (!isUtf8(s === 0 && e === d.length ? d : d.subarray(s, e))) return null;
  return b.utf8Slice(s, e);
}

/** A private copy of d[s, e) as a Buffer (from Node's pool when small). */
export function copyBytes(d: Uint8Array, s: number, e: number): Buffer {
  const n = e - s;
  const out = globalThis.Buffer.allocUnsafe(n);
  if (n <= 64) for (let i = 0; i < n; i++) out[i] = d[s + i]!;
  else out.set(d.subarray(s, e));
  return out;
}
