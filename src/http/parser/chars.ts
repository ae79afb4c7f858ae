/**
 * Byte classes from RFC 9110 §5.6 as 256-entry lookup tables, so every
 * validation in the parser is one indexed load per byte (no regex, no strings).
 * Thread: any. Owns nothing but the tables (immutable after module load).
 */

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TCHAR = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/**
 * field-value bytes: VCHAR, obs-text, SP, HTAB. Everything else (NUL, CR, LF,
 * other controls, DEL) is rejected: a bare CR inside a value is how header
 * injection and smuggling start.
 */
export const FIELD_VALUE = table((c) => c === 0x09 || c === 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/**
 * request-target bytes: visible ASCII except '#' (a fragment is never sent on
 * the wire). Non-ASCII must be percent-encoded by the client; controls, space
 * and DEL are framing errors.
 */
export const TARGET = table((c) => c >= 0x21 && c <= 0x7e && c !== 0x23);

/** Host header bytes: reg-name / IP-literal / port characters (RFC 3986 §3.2.2). */
export const HOST = table(
  (c) => isAlpha(c) || isDigit(c) || "-._~%!$&'()*+,;=:[]".includes(String.fromCharCode(c)),
);

/** Hex digit value, or 255 when the byte is not a HEXDIG. */
export const HEX = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let c = 0; c < 10; c++) t[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[0x41 + c] = 10 + c;
    t[0x61 + c] = 10 + c;
  }
  return t;
})();

/** qdtext / quoted-pair content bytes for chunk extensions (RFC 9110 §5.6.4). */
export const QDTEXT = table((c) => c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string })
  .latin1Slice;

/** Decodes bytes [start, end) as latin1 (one byte = one UTF-16 unit), without copying the bytes first. */
export function latin1(data: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(data, start, end);
}
