/**
 * RFC 6455 framing constants and the server's frame writer. Server frames are
 * never masked (5.1), so a header is 2, 4 or 10 bytes.
 * Thread: any. Owns nothing.
 */
export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export const FIN = 0x80;
export const RSV1 = 0x40;

/** Close codes this server sends or reports (RFC 6455 7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  Unsupported: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidData: 1007,
  PolicyViolation: 1008,
  TooBig: 1009,
  InternalError: 1011,
} as const;

/** Whether a peer may send this code in a close frame (1004-1006 and 1015 are reserved for reports, RFC 6455 7.4). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Bytes of the header for a payload of `len` bytes. */
export function headerSize(len: number): number {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/** Writes a frame header at `at` in `b`; returns the offset after it. */
export function writeHeader(b: Uint8Array, at: number, first: number, len: number): number {
  b[at] = first;
  if (len < 126) {
    b[at + 1] = len;
    return at + 2;
  }
  if (len < 65536) {
    b[at + 1] = 126;
    b[at + 2] = len >>> 8;
    b[at + 3] = len & 0xff;
    return at + 4;
  }
  b[at + 1] = 127;
  const hi = Math.floor(len / 2 ** 32);
  const lo = len >>> 0;
  b[at + 2] = hi >>> 24;
  b[at + 3] = (hi >>> 16) & 0xff;
  b[at + 4] = (hi >>> 8) & 0xff;
  b[at + 5] = hi & 0xff;
  b[at + 6] = lo >>> 24;
  b[at + 7] = (lo >>> 16) & 0xff;
  b[at + 8] = (lo >>> 8) & 0xff;
  b[at + 9] = lo & 0xff;
  return at + 10;
}

/** One whole frame (header and payload) in a new buffer: for frames built once and sent to many (pub/sub). */
export function encodeFrame(first: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerSize(payload.length) + payload.length);
  out.set(payload, writeHeader(out, 0, first, payload.length));
  return out;
}

/** The payload of a close frame: the code (big-endian) and the reason, cut to fit 125 bytes on a character boundary. */
export function closePayload(code: number, reason: string): Uint8Array {
  if (code === CloseCode.NoStatus) return new Uint8Array(0);
  let r = globalThis.Buffer.from(reason, 'utf8');
  if (r.length > 123) {
    let n = 123;
    while (n > 0 && (r[n]! & 0xc0) === 0x80) n--; // do not cut a character in half
    r = r.subarray(0, n);
  }
  const out = new Uint8Array(2 + r.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** A frame header as read off the wire; filled in place so parsing a frame allocates nothing. */
export interface FrameHeader {
  /** The first byte: FIN, RSV1-3 and the opcode. */
  first: number;
  masked: boolean;
  /** Bytes of the header, mask key included. */
  size: number;
  /** Payload length; -1 when the 64-bit length has its top bit set (a protocol error). */
  length: number;
}

/**
 * Reads the header at d[pos] into `out`. False while it is not whole yet.
 * Either side's parser: the server refuses unmasked frames, a client masked ones.
 */
export function readHeader(d: Uint8Array, pos: number, end: number, out: FrameHeader): boolean {
  if (end - pos < 2) return false;
  const b1 = d[pos + 1]!;
  const len7 = b1 & 0x7f;
  const masked = (b1 & 0x80) !== 0;
  const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  if (end - pos < size) return false;
  out.first = d[pos]!;
  out.masked = masked;
  out.size = size;
  const m = pos + 2;
  if (len7 === 126) out.length = (d[m]! << 8) | d[m + 1]!;
  else if (len7 === 127) {
    const hi = ((d[m]! << 24) | (d[m + 1]! << 16) | (d[m + 2]! << 8) | d[m + 3]!) >>> 0;
    const lo = ((d[m + 4]! << 24) | (d[m + 5]! << 16) | (d[m + 6]! << 8) | d[m + 7]!) >>> 0;
    out.length = hi > 0x1fffff ? -1 : hi * 2 ** 32 + lo;
  } else out.length = len7;
  return true;
}

/** A whole client frame (RFC 6455 5.3: masked with `key`), for a client to send. */
export function encodeMaskedFrame(first: number, payload: Uint8Array, key: Uint8Array): Uint8Array {
  const at = headerSize(payload.length);
  const out = new Uint8Array(at + 4 + payload.length);
  writeHeader(out, 0, first, payload.length);
  out[1] = out[1]! | 0x80;
  out.set(key.subarray(0, 4), at);
  for (let i = 0; i < payload.length; i++) out[at + 4 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}
