/**
 * The incremental HTTP/1.1 request parser (RFC 9112), strict by default.
 *
 * It works on bytes: `execute(data, pos, end)` consumes complete lines and
 * body bytes from `data[pos..end)` and stops at the first event. A partial
 * line is never consumed: the caller keeps it (the reactor's Buffer does) and
 * calls again with more bytes, so a head split over many reads costs one scan
 * of each byte, and nothing is decoded to a string before it is validated.
 * Body bytes are reported as offsets into `data` (zero-copy): copy what you keep.
 *
 * Thread: the loop thread of the connection that owns it. Owns the framing
 * state of one connection's request stream (reused across keep-alive requests).
 */
import { COLON, CR, FIELD_VALUE, HEX, HOST, HTAB, LF, QDTEXT, SP, TARGET, TCHAR } from './chars.js';
import { type HttpError, badRequest, httpError } from './errors.js';
import { MAX_INTERNED_VALUE, internName, internTarget, internValue } from './intern.js';
import type { ParserLimits } from './limits.js';
import { checkTargetForm, pathHasDotSegments, resolveDotSegments, sameAuthority, targetAuthority } from './target.js';

/** Nothing more can be done with these bytes; `pos` says how far they were consumed. */
export const EV_NEED_MORE = 0;
/** A request head is complete: read `parser.head`. */
export const EV_HEAD = 1;
/** Body bytes are at `data[bodyStart..bodyEnd)`, valid only until the caller's buffer changes. */
export const EV_BODY = 2;
/** The current message (head, body, trailers) is complete. */
export const EV_MESSAGE_END = 3;
/** A request head with no body: `parser.head` is a complete request (no EV_MESSAGE_END follows). */
export const EV_HEAD_ONLY = 4;
export type ParseEvent = typeof EV_NEED_MORE | typeof EV_HEAD | typeof EV_BODY | typeof EV_MESSAGE_END | typeof EV_HEAD_ONLY;

const S_REQUEST_LINE = 0;
const S_HEADERS = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_DATA_CRLF = 5;
const S_TRAILERS = 6;
const S_MESSAGE_END = 7;
const S_DEAD = 8;

/** RFC 9112 §2.2: ignore at least one empty line before a request line; more is a stream of garbage. */
const MAX_LEADING_EMPTY_LINES = 4;
/** All chunk extensions of one body together, in units of `maxChunkExtensionBytes` (Node uses 16 KiB). */
const EXTENSION_BUDGET_FACTOR = 16;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** A keep-alive client repeats its Host: the last value that passed the check. */
let lastValidHost = '';

/** One parsed request head. Header names are lowercased; values are latin1, trimmed of OWS. */
export class RequestHead {
  /** Flat list: name0, value0, name1, value1, ... in arrival order. */
  readonly headers: string[] = [];
  /** Trailer fields of a chunked body, same layout; null until the body ends with some. */
  trailers: string[] | null = null;
  /** The Host header value ('' when absent: allowed in HTTP/1.0 only). */
  host = '';
  /** Declared Content-Length, or -1. */
  contentLength = -1;
  chunked = false;
  /** Keep the connection open after this exchange (version default, then the Connection header). */
  keepAlive = true;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  expectContinue = false;
  /** The target with its path's dot-segments removed, when it had any (null: `target` as it is). */
  resolved: string | null = null;
  constructor(
    readonly method: string,
    /** The request-target exactly as sent. */
    readonly target: string,
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and 1.x, x > 1, processed as 1.1). */
    readonly versionMinor: number,
  ) {
    this.keepAlive = versionMinor === 1;
  }

  /** True when a body follows the head. */
  get hasBody(): boolean {
    return this.chunked || this.contentLength > 0;
  }
}

export class RequestParser {
  /** After `execute`: how far the input was consumed. */
  pos = 0;
  /** After EV_BODY: the body bytes' offsets in the `data` passed to `execute`. */
  bodyStart = 0;
  bodyEnd = 0;
  /** After EV_HEAD, until the next head: the request being parsed. */
  head: RequestHead | null = null;
  private state = S_REQUEST_LINE;
  private emptyLines = 0;
  /** Some bytes of the next request arrived: lets the caller tell "idle" from "slowloris". */
  private started = false;
  private hostSeen = false;
  private sectionBytes = 0;
  private fieldCount = 0;
  private remaining = 0;
  private bodyBytes = 0;
  private extensionBytes = 0;
  private teSeen = false;
  private teValue = '';
  /** The authority of an absolute-form target ('' for other forms): Host must name the same. */
  private authority = '';

  constructor(readonly limits: ParserLimits) {}

  /** True between the first byte of a request and the end of its head. */
  get inHead(): boolean {
    return (this.state === S_REQUEST_LINE && this.started) || this.state === S_HEADERS;
  }

  /** True while body bytes (or chunk framing, or trailers) are expected. */
  get inBody(): boolean {
    return this.state >= S_BODY_LENGTH && this.state <= S_TRAILERS;
  }

  /** True when the parser waits for the first byte of a request. */
  get idle(): boolean {
    return this.state === S_REQUEST_LINE && !this.started;
  }

  /**
   * Consumes from data[pos..end) up to the next event. Throws HttpError on a
   * protocol error; the parser is then dead and the connection must close.
   */
  execute(data: Uint8Array, pos: number, end: number): ParseEvent {
    try {
      switch (this.state) {
        case S_REQUEST_LINE:
          return this.requestLine(data, pos, end);
        case S_HEADERS:
          return this.headerLines(data, pos, end, false);
        case S_BODY_LENGTH:
        case S_CHUNK_DATA:
          return this.bodyBytesEvent(data, pos, end);
        case S_CHUNK_SIZE:
          return this.chunkSize(data, pos, end);
        case S_CHUNK_DATA_CRLF:
          return this.chunkDataEnd(data, pos, end);
        case S_TRAILERS:
          return this.headerLines(data, pos, end, true);
        case S_MESSAGE_END:
          this.state = S_REQUEST_LINE;
          this.emptyLines = 0;
          this.started = false;
          this.head = null; // the request owns it now; an idle parser holds nothing
          this.pos = pos;
          return EV_MESSAGE_END;
        default:
          throw badRequest('HPE_CLOSED', 'the parser is dead after an error');
      }
    } catch (err) {
      this.state = S_DEAD;
      throw err;
    }
  }

  private requestLine(data: Uint8Array, pos: number, end: number): ParseEvent {
    const limits = this.limits;
    for (;;) {
      const lf = findLF(data, pos, end);
      if (lf < 0) {
        if (end - pos > limits.maxRequestLineBytes) {
          throw httpError(414, 'HPE_URI_TOO_LONG', `request line longer than ${limits.maxRequestLineBytes} bytes`);
        }
        if (end > pos) this.started = true;
        this.pos = pos;
        return EV_NEED_MORE;
      }
      if (lf === pos || data[lf - 1] !== CR) throw badRequest('HPE_BARE_LF', 'line ending without CR (bare LF)');
      const lineEnd = lf - 1;
      this.started = true;
      if (lineEnd === pos) {
        if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) {
          throw badRequest('HPE_EMPTY_LINES', 'too many empty lines before the request line');
        }
        pos = lf + 1;
        continue;
      }
      if (lineEnd - pos > limits.maxRequestLineBytes) {
        throw httpError(414, 'HPE_URI_TOO_LONG', `request line longer than ${limits.maxRequestLineBytes} bytes`);
      }
      this.parseRequestLine(data, pos, lineEnd);
      this.state = S_HEADERS;
      this.sectionBytes = 0;
      this.fieldCount = 0;
      this.teSeen = false;
      this.teValue = '';
      this.hostSeen = false;
      return this.headerLines(data, lf + 1, end, false);
    }
  }

  private parseRequestLine(data: Uint8Array, start: number, lineEnd: number): void {
    let i = start;
    while (TCHAR[data[i]!]) i++;
    if (i === start || data[i] !== SP) {
      throw badRequest('HPE_INVALID_METHOD', i === start ? 'missing or invalid method' : 'invalid character in method');
    }
    const method = methodName(data, start, i);
    const ts = ++i;
    while (TARGET[data[i]!]) i++;
    if (i === ts) throw badRequest('HPE_INVALID_TARGET', 'missing or invalid request-target');
    if (data[i] !== SP) throw badRequest('HPE_INVALID_TARGET', 'invalid character in request-target');
    const te = i++;
    // HTTP-version = "HTTP/" DIGIT "." DIGIT, exactly, then the CR at lineEnd.
    if (
      lineEnd - i !== 8 ||
      data[i] !== 0x48 || data[i + 1] !== 0x54 || data[i + 2] !== 0x54 || data[i + 3] !== 0x50 ||
      data[i + 4] !== 0x2f || data[i + 6] !== 0x2e ||
      !isDigit(data[i + 5]!) || !isDigit(data[i + 7]!)
    ) {
      throw badRequest('HPE_INVALID_VERSION', 'malformed HTTP-version');
    }
    const major = data[i + 5]! - 0x30;
    const minor = data[i + 7]! - 0x30;
    if (major !== 1) throw httpError(505, 'HPE_VERSION', `HTTP/${major}.${minor} is not supported`);
    const ps = checkTargetForm(method, data, ts, te);
    const target = internTarget(data, ts, te);
    const head = new RequestHead(method, target, minor === 0 ? 0 : 1);
    this.authority = ps > ts ? targetAuthority(target, ps - ts) : '';
    if (ps >= 0 && pathHasDotSegments(data, ps, te)) {
      const resolved = resolveDotSegments(target, ps - ts);
      if (resolved !== target) head.resolved = resolved;
    }
    this.head = head;
  }

  /** Header lines (or trailer lines) up to the empty line that ends the section. */
  private headerLines(data: Uint8Array, pos: number, end: number, trailers: boolean): ParseEvent {
    const limits = this.limits;
    const head = this.head!;
    for (;;) {
      const lf = findLF(data, pos, end);
      if (lf < 0) {
        if (this.sectionBytes + (end - pos) > limits.maxHeaderBytes) throw tooLarge(limits, trailers);
        this.pos = pos;
        return EV_NEED_MORE;
      }
      this.sectionBytes += lf + 1 - pos;
      if (this.sectionBytes > limits.maxHeaderBytes) throw tooLarge(limits, trailers);
      if (lf === pos || data[lf - 1] !== CR) throw badRequest('HPE_BARE_LF', 'line ending without CR (bare LF)');
      const lineEnd = lf - 1;
      if (lineEnd === pos) {
        pos = lf + 1;
        if (trailers) {
          this.state = S_MESSAGE_END;
          this.pos = pos;
          return this.execute(data, pos, end);
        }
        this.pos = pos;
        if (this.finishHead(head)) return EV_HEAD;
        // No body: the message is complete, and the next request may follow at once.
        this.state = S_REQUEST_LINE;
        this.emptyLines = 0;
        this.started = false;
        return EV_HEAD_ONLY;
      }
      const c0 = data[pos];
      if (c0 === SP || c0 === HTAB) throw badRequest('HPE_OBS_FOLD', 'obsolete line folding (obs-fold) is not allowed');
      if (++this.fieldCount > limits.maxHeaderCount) {
        throw httpError(431, 'HPE_HEADER_COUNT', `more than ${limits.maxHeaderCount} ${trailers ? 'trailer' : 'header'} fields`);
      }
      // field-name: token, lowercased while hashing (for the intern cache).
      let i = pos;
      let h = 0;
      let upper = false;
      for (;;) {
        let c = data[i]!;
        if (!TCHAR[c]) break;
        if (c >= 0x41 && c <= 0x5a) {
          c |= 0x20;
          upper = true;
        }
        h = (Math.imul(h, 31) + c) | 0;
        i++;
      }
      const nameEnd = i;
      if (data[i] !== COLON) {
        const c = data[i];
        if (c === SP || c === HTAB) {
          let j = i;
          while (j < lineEnd && (data[j] === SP || data[j] === HTAB)) j++;
          if (data[j] === COLON) throw badRequest('HPE_WS_BEFORE_COLON', 'whitespace between field name and colon');
          throw badRequest('HPE_INVALID_HEADER_TOKEN', 'field line without a colon');
        }
        throw badRequest('HPE_INVALID_HEADER_TOKEN', i === pos ? 'empty field name' : 'invalid character in field name');
      }
      if (nameEnd === pos) throw badRequest('HPE_INVALID_HEADER_TOKEN', 'empty field name');
      i++;
      while (i < lineEnd && (data[i] === SP || data[i] === HTAB)) i++;
      const vs = i;
      let ve = lineEnd;
      while (ve > vs && (data[ve - 1] === SP || data[ve - 1] === HTAB)) ve--;
      let vh = 0;
      if (ve - vs <= MAX_INTERNED_VALUE) {
        // Short values are interned: validate and hash in one pass.
        for (; i < ve; i++) {
          const c = data[i]!;
          if (!FIELD_VALUE[c]) throw invalidValueByte(c);
          vh = (Math.imul(vh, 31) + c) | 0;
        }
      } else {
        for (; i < ve; i++) if (!FIELD_VALUE[data[i]!]) throw invalidValueByte(data[i]!);
      }
      const name = internName(data, pos, nameEnd, h ^ (h >>> 9), upper);
      const value = ve > vs ? internValue(data, vs, ve, vh ^ (vh >>> 11) ^ (ve - vs)) : '';
      if (trailers) {
        (head.trailers ??= []).push(name, value);
      } else {
        head.headers.push(name, value);
        if (name.length <= 17) this.semantic(head, name, value);
      }
      pos = lf + 1;
    }
  }

  /** Framing and connection semantics of the few fields the server itself interprets. */
  private semantic(head: RequestHead, name: string, value: string): void {
    switch (name) {
      case 'host':
        if (this.hostSeen) throw badRequest('HPE_DUPLICATE_HOST', 'more than one Host header field');
        this.hostSeen = true;
        if (value !== lastValidHost) {
          for (let i = 0; i < value.length; i++) {
            if (!HOST[value.charCodeAt(i)]) throw badRequest('HPE_INVALID_HOST', 'invalid character in Host');
          }
          lastValidHost = value;
        }
        head.host = value;
        break;
      case 'content-length': {
        const n = parseContentLength(value);
        if (head.contentLength !== -1 && head.contentLength !== n) {
          throw badRequest('HPE_CONTENT_LENGTH_MISMATCH', 'Content-Length fields with different values');
        }
        head.contentLength = n;
        break;
      }
      case 'transfer-encoding':
        this.teValue = this.teSeen ? `${this.teValue},${value}` : value;
        this.teSeen = true;
        break;
      case 'connection':
        applyConnection(head, value);
        break;
      case 'expect':
        if (asciiLower(value) === '100-continue') {
          // RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue expectation is ignored.
          head.expectContinue = head.versionMinor === 1;
        } else {
          throw httpError(417, 'HPE_EXPECTATION', 'only the 100-continue expectation is supported');
        }
        break;
      default:
        break;
    }
  }

  /** Checks the head's framing and sets up the body. Returns false when there is no body. */
  private finishHead(head: RequestHead): boolean {
    if (head.versionMinor === 1 && !this.hostSeen) {
      throw badRequest('HPE_MISSING_HOST', 'HTTP/1.1 request without a Host header field');
    }
    if (this.authority !== '' && this.hostSeen && !sameAuthority(head.target, this.authority, head.host)) {
      throw badRequest('HPE_HOST_MISMATCH', 'the Host header names another authority than the absolute-form target');
    }
    this.bodyBytes = 0;
    this.extensionBytes = 0;
    if (this.teSeen) {
      if (head.contentLength !== -1) {
        throw badRequest('HPE_CL_AND_TE', 'both Content-Length and Transfer-Encoding (request smuggling)');
      }
      if (head.versionMinor === 0) {
        throw badRequest('HPE_TE_HTTP10', 'Transfer-Encoding in an HTTP/1.0 request');
      }
      checkTransferEncoding(this.teValue);
      head.chunked = true;
      this.state = S_CHUNK_SIZE;
      return true;
    }
    if (head.contentLength > this.limits.maxBodyBytes) {
      throw httpError(413, 'HPE_BODY_TOO_LARGE', `Content-Length ${head.contentLength} exceeds ${this.limits.maxBodyBytes} bytes`);
    }
    if (head.contentLength > 0) {
      this.remaining = head.contentLength;
      this.state = S_BODY_LENGTH;
      return true;
    }
    return false;
  }

  /** Forgets the last request (an idle parser going back to its pool holds nothing). */
  reset(): void {
    if (this.state === S_REQUEST_LINE && !this.started) this.head = null;
  }

  private bodyBytesEvent(data: Uint8Array, pos: number, end: number): ParseEvent {
    const n = Math.min(this.remaining, end - pos);
    if (n === 0) {
      this.pos = pos;
      return EV_NEED_MORE;
    }
    this.bodyStart = pos;
    this.bodyEnd = pos + n;
    this.pos = pos + n;
    this.remaining -= n;
    if (this.remaining === 0) this.state = this.state === S_BODY_LENGTH ? S_MESSAGE_END : S_CHUNK_DATA_CRLF;
    return EV_BODY;
  }

  private chunkSize(data: Uint8Array, pos: number, end: number): ParseEvent {
    const max = this.limits.maxChunkExtensionBytes;
    const lf = findLF(data, pos, end);
    if (lf < 0) {
      if (end - pos > max) throw badRequest('HPE_CHUNK_LINE_TOO_LONG', `chunk-size line longer than ${max} bytes`);
      this.pos = pos;
      return EV_NEED_MORE;
    }
    if (lf === pos || data[lf - 1] !== CR) throw badRequest('HPE_BARE_LF', 'chunk-size line ending without CR');
    const lineEnd = lf - 1;
    if (lineEnd - pos > max) throw badRequest('HPE_CHUNK_LINE_TOO_LONG', `chunk-size line longer than ${max} bytes`);
    let i = pos;
    let size = 0;
    for (;;) {
      const d = HEX[data[i]!]!;
      if (d === 255) break;
      if (size > (MAX_SAFE - 15) / 16) throw badRequest('HPE_CHUNK_SIZE_OVERFLOW', 'chunk size overflows');
      size = size * 16 + d;
      i++;
    }
    if (i === pos) throw badRequest('HPE_INVALID_CHUNK_SIZE', 'chunk size is not hexadecimal');
    if (i < lineEnd) {
      this.extensionBytes += lineEnd - i;
      if (this.extensionBytes > max * EXTENSION_BUDGET_FACTOR) {
        throw badRequest('HPE_CHUNK_EXTENSIONS', 'too many chunk extension bytes in one body');
      }
      checkChunkExtensions(data, i, lineEnd);
    }
    pos = lf + 1;
    if (size === 0) {
      this.state = S_TRAILERS;
      this.sectionBytes = 0;
      this.fieldCount = 0;
      return this.headerLines(data, pos, end, true);
    }
    this.bodyBytes += size;
    if (this.bodyBytes > this.limits.maxBodyBytes) {
      throw httpError(413, 'HPE_BODY_TOO_LARGE', `chunked body exceeds ${this.limits.maxBodyBytes} bytes`);
    }
    this.remaining = size;
    this.state = S_CHUNK_DATA;
    return this.bodyBytesEvent(data, pos, end);
  }

  private chunkDataEnd(data: Uint8Array, pos: number, end: number): ParseEvent {
    if (end - pos < 2) {
      if (end > pos && data[pos] !== CR) throw badRequest('HPE_CHUNK_DATA_END', 'chunk data not followed by CRLF');
      this.pos = pos;
      return EV_NEED_MORE;
    }
    if (data[pos] !== CR || data[pos + 1] !== LF) throw badRequest('HPE_CHUNK_DATA_END', 'chunk data not followed by CRLF');
    this.state = S_CHUNK_SIZE;
    return this.chunkSize(data, pos + 2, end);
  }
}

/** Lines up to this long are scanned in JS: indexOf is a C++ builtin whose call costs more than the scan. */
const SHORT_LINE = 48;

/**
 * The first LF in data[pos, end), or -1. Short lines (a request line, Host, the empty line
 * ending the head) are found by a loop; past SHORT_LINE bytes `indexOf` (memchr) takes over,
 * which is cheaper for the long lines browsers send. `data` may be a whole read buffer: when
 * the line is not complete, memchr runs on into its stale tail, which is still cheaper than a
 * JS loop (and a line left incomplete moves to the connection's own small buffer, so it
 * happens once per partial line).
 */
function findLF(data: Uint8Array, pos: number, end: number): number {
  const stop = pos + SHORT_LINE < end ? pos + SHORT_LINE : end;
  for (let i = pos; i < stop; i++) if (data[i] === LF) return i;
  if (stop >= end) return -1;
  const i = data.indexOf(LF, stop);
  return i < 0 || i >= end ? -1 : i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function invalidValueByte(c: number): HttpError {
  return c === CR
    ? badRequest('HPE_BARE_CR', 'bare CR in field value')
    : badRequest('HPE_INVALID_HEADER_VALUE', `control byte 0x${c.toString(16).padStart(2, '0')} in field value`);
}

function tooLarge(limits: ParserLimits, trailers: boolean): HttpError {
  return httpError(431, 'HPE_HEADER_OVERFLOW', `${trailers ? 'trailer' : 'header'} section larger than ${limits.maxHeaderBytes} bytes`);
}

/** Common methods as constant strings: no allocation for them. */
function methodName(data: Uint8Array, s: number, e: number): string {
  const n = e - s;
  const c = data[s];
  if (n === 3) {
    if (c === 0x47 && data[s + 1] === 0x45 && data[s + 2] === 0x54) return 'GET';
    if (c === 0x50 && data[s + 1] === 0x55 && data[s + 2] === 0x54) return 'PUT';
  } else if (n === 4) {
    if (c === 0x50 && data[s + 1] === 0x4f && data[s + 2] === 0x53 && data[s + 3] === 0x54) return 'POST';
    if (c === 0x48 && data[s + 1] === 0x45 && data[s + 2] === 0x41 && data[s + 3] === 0x44) return 'HEAD';
  }
  return internTarget(data, s, e);
}

/** Content-Length = 1*DIGIT, also as a list of identical values ("5, 5"), overflow-checked. */
export function parseContentLength(value: string): number {
  let result = -1;
  let i = 0;
  const n = value.length;
  if (n === 0) throw badRequest('HPE_INVALID_CONTENT_LENGTH', 'empty Content-Length');
  while (i < n) {
    const start = i;
    let v = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      if (v > MAX_SAFE) throw badRequest('HPE_CONTENT_LENGTH_OVERFLOW', 'Content-Length overflows');
    }
    if (i === start) throw badRequest('HPE_INVALID_CONTENT_LENGTH', 'Content-Length is not a number');
    if (result !== -1 && result !== v) {
      throw badRequest('HPE_CONTENT_LENGTH_MISMATCH', 'Content-Length list with different values');
    }
    result = v;
    if (i === n) break;
    // list separator: OWS "," OWS
    while (i < n && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
    if (value.charCodeAt(i) !== 0x2c) throw badRequest('HPE_INVALID_CONTENT_LENGTH', 'invalid character in Content-Length');
    i++;
    while (i < n && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
    if (i === n) throw badRequest('HPE_INVALID_CONTENT_LENGTH', 'Content-Length list ends with a comma');
  }
  return result;
}

/**
 * Transfer-Encoding: a list of transfer-codings whose last is chunked (else
 * the body length is unknowable: 400, RFC 9112 §6.3). chunked twice, or with
 * parameters: 400. Any
 * other coding before it (gzip, deflate, ...) is not implemented: 501.
 */
function checkTransferEncoding(value: string): void {
  const parts = value.split(',');
  const codings: string[] = [];
  let lastHasParams = false;
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue; // RFC 9110 §5.6.1: empty list elements are ignored
    const semi = p.indexOf(';');
    const name = asciiLower((semi < 0 ? p : p.slice(0, semi)).trim());
    if (name === '' || !isTokenString(name)) throw badRequest('HPE_INVALID_TRANSFER_ENCODING', 'invalid transfer-coding');
    codings.push(name);
    lastHasParams = semi >= 0;
  }
  if (codings.length === 0) throw badRequest('HPE_INVALID_TRANSFER_ENCODING', 'empty Transfer-Encoding');
  if (codings[codings.length - 1] !== 'chunked') {
    throw badRequest('HPE_TE_CHUNKED_NOT_LAST', 'Transfer-Encoding without chunked as the final coding');
  }
  // RFC 9112 §7.1: chunked has no parameters; a parser that ignores one may frame differently.
  if (lastHasParams) throw badRequest('HPE_TE_CHUNKED_PARAMS', 'the chunked transfer-coding takes no parameters');
  for (let i = 0; i < codings.length - 1; i++) {
    if (codings[i] === 'chunked') throw badRequest('HPE_TE_CHUNKED_TWICE', 'chunked applied more than once');
  }
  if (codings.length > 1) {
    throw httpError(501, 'HPE_TE_NOT_IMPLEMENTED', `transfer-coding '${codings[0]}' is not implemented`);
  }
}

/** chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
function checkChunkExtensions(data: Uint8Array, i: number, end: number): void {
  const bad = (): never => {
    throw badRequest('HPE_INVALID_CHUNK_EXTENSION', 'malformed chunk extension');
  };
  const ws = (): void => {
    while (i < end && (data[i] === SP || data[i] === HTAB)) i++;
  };
  while (i < end) {
    ws();
    if (data[i] !== 0x3b) bad();
    i++;
    ws();
    const ns = i;
    while (i < end && TCHAR[data[i]!]) i++;
    if (i === ns) bad();
    ws();
    if (i < end && data[i] === 0x3d) {
      i++;
      ws();
      if (data[i] === 0x22) {
        i++;
        for (;;) {
          if (i >= end) bad();
          const c = data[i]!;
          if (c === 0x22) break;
          if (c === 0x5c) {
            i++;
            if (i >= end) bad();
            const q = data[i]!;
            if (!(q === HTAB || q === SP || (q >= 0x21 && q <= 0x7e) || q >= 0x80)) bad();
          } else if (!QDTEXT[c]) bad();
          i++;
        }
        i++;
      } else {
        const vs = i;
        while (i < end && TCHAR[data[i]!]) i++;
        if (i === vs) bad();
      }
      ws();
    }
  }
}

function applyConnection(head: RequestHead, value: string): void {
  const v = asciiLower(value);
  if (v === 'close') {
    head.keepAlive = false;
    return;
  }
  if (v === 'keep-alive') {
    if (head.versionMinor === 0) head.keepAlive = true;
    return;
  }
  let close = false;
  let keep = false;
  for (const raw of v.split(',')) {
    const t = raw.trim();
    if (t === 'close') close = true;
    else if (t === 'keep-alive') keep = true;
  }
  // close wins over keep-alive whatever the order.
  if (close) head.keepAlive = false;
  else if (keep && head.versionMinor === 0) head.keepAlive = true;
}

function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

function isTokenString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || !TCHAR[c]) return false;
  }
  return true;
}
