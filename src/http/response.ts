/**
 * The response a native handler writes: status, headers, then body by
 * `write()` (streamed, with backpressure) and/or `end()`. The head is
 * serialized on the first write with the framing the body needs:
 * Content-Length when the whole body is known at end(), chunked when it is
 * streamed to an HTTP/1.1 client, close-delimited for HTTP/1.0; none for HEAD
 * requests and 1xx/204/304 statuses.
 * Thread: the loop thread of its connection. Owns its header list.
 */
import { dateLine } from './date.js';
import { checkHeaderValue, headerKey, lowerAscii } from './headers.js';
import type { Output } from './output.js';
import type { HeadersLike } from './options.js';
import { checkStatus, statusHasNoBody, statusLine } from './status.js';

/** What a response needs from the connection it answers on. */
export interface ResponseSink {
  readonly output: Output;
  /** Claims the output for this connection; false when the connection is gone. */
  beginWrite(): boolean;
  /** Whether the connection may stay open after this response (request, server state). */
  mayKeepAlive(): boolean;
  /** True when queued output is at or above the connection's high-water mark. */
  readonly congested: boolean;
  /** Resolves when queued output drains below the low-water mark; rejects when the connection closes. */
  drained(): Promise<void>;
  /** The response is complete on the wire (or broken, which closes the connection). */
  responseDone(res: HttpResponse, keepAlive: boolean): void;
  /** Switches the connection to WebSocket (see HttpResponse.upgrade). */
  upgrade(res: HttpResponse, data: unknown): boolean;
}

const FRAMING_NONE = 0;
const FRAMING_LENGTH = 1;
const FRAMING_CHUNKED = 2;
const FRAMING_CLOSE = 3;

const CRLF = '\r\n';

/** What write()/end() take: text (sent as UTF-8) or bytes (any view, or a whole ArrayBuffer). */
export type BodyChunk = string | ArrayBufferView | ArrayBuffer;

/**
 * The chunk as a string or a byte view of exactly its bytes. A Uint16Array's `length` counts
 * elements, not bytes, and an ArrayBuffer has none: taken as they are, they went out truncated
 * or as nothing at all, so other views are re-viewed as bytes and anything else is refused.
 */
function toChunk(chunk: BodyChunk): string | Uint8Array {
  if (typeof chunk === 'string' || chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const c = chunk as unknown; // from JS, or a stream: anything
  if (c instanceof ArrayBuffer || c instanceof SharedArrayBuffer) return new Uint8Array(c);
  const what = c === null ? 'null' : typeof c === 'object' ? ((c as object).constructor?.name ?? 'object') : typeof c;
  throw new TypeError(`response body chunk must be a string, an ArrayBufferView or an ArrayBuffer, got ${what}`);
}
/** Longest string body that is checked for ASCII and written together with the head. */
const INLINE_TEXT = 1024;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

export class HttpResponse {
  /** The status to send; settable until the head is written. */
  statusCode = 200;
  /** The head has been written. */
  headersSent = false;
  /** end() was called. */
  finished = false;
  /** Set by the connection when this response can no longer reach the client. */
  private dead = false;
  private switched = false;
  /** key0, name0, value0, key1, ... (key = lowercased name) */
  private fields: string[] = [];
  private framing = FRAMING_NONE;
  private keepAlive = true;
  private declared = -1;
  private written = 0;

  constructor(
    private readonly sink: ResponseSink,
    /** The request was HEAD: headers as for GET, never a body. */
    readonly isHead: boolean,
    private readonly versionMinor: number,
  ) {}

  status(code: number): this {
    checkStatus(code);
    if (this.headersSent) throw new Error('status: the response head was already sent');
    this.statusCode = code;
    return this;
  }

  /** Sets a header, replacing any of the same name (case-insensitive). Arrays become repeated fields. */
  setHeader(name: string, value: string | number | readonly string[]): this {
    if (this.headersSent) throw new Error(`setHeader(${name}): the response head was already sent`);
    const key = headerKey(name);
    if (this.fields.length > 0) this.removeKey(key);
    if (Array.isArray(value)) for (const v of value) this.add(key, name, String(v));
    else this.add(key, name, typeof value === 'string' ? value : String(value));
    return this;
  }

  /** Adds a field without removing existing ones (Set-Cookie). */
  appendHeader(name: string, value: string | number): this {
    if (this.headersSent) throw new Error(`appendHeader(${name}): the response head was already sent`);
    this.add(headerKey(name), name, typeof value === 'string' ? value : String(value));
    return this;
  }

  getHeader(name: string): string | undefined {
    const key = lowerAscii(name);
    const f = this.fields;
    for (let i = 0; i < f.length; i += 3) if (f[i] === key) return f[i + 2];
    return undefined;
  }

  hasHeader(name: string): boolean {
    return this.getHeader(name) !== undefined;
  }

  removeHeader(name: string): this {
    if (this.headersSent) throw new Error(`removeHeader(${name}): the response head was already sent`);
    this.removeKey(lowerAscii(name));
    return this;
  }

  /**
   * Writes body bytes (streaming: chunked for HTTP/1.1 unless Content-Length
   * was set). Returns false when the client is not keeping up: stop and
   * `await res.drain()` before writing more, so memory stays bounded.
   */
  write(data: BodyChunk): boolean {
    if (this.dead) return false;
    if (this.finished) throw new Error('write after end');
    const chunk = toChunk(data);
    const head = this.headersSent ? null : this.head(-1);
    if (!this.sink.beginWrite()) return false;
    if (head !== null) writeHead(this.sink.output, head);
    this.body(chunk, false);
    const out = this.sink.output;
    if (out.pending >= 16 * 1024) out.flush();
    else out.flushSoon();
    return !this.sink.congested;
  }

  /** Ends the response, optionally with a last chunk. With no write() before, the length is exact (Content-Length). */
  end(data?: BodyChunk): void {
    if (this.finished) return;
    const chunk = data === undefined ? undefined : toChunk(data);
    if (!this.headersSent) {
      let byteLength = 0;
      let inline = false;
      if (chunk !== undefined) {
        if (typeof chunk === 'string') {
          // Short ASCII text rides in the head's latin1 write: one copy, no UTF-8 encoder call.
          inline = chunk.length <= INLINE_TEXT && isAscii(chunk);
          byteLength = inline ? chunk.length : Buffer.byteLength(chunk);
        } else {
          byteLength = chunk.length;
        }
      }
      const head = this.head(byteLength);
      this.finished = true;
      if (!this.sink.beginWrite()) return;
      const out = this.sink.output;
      const withBody = byteLength > 0 && !this.isHead && this.framing !== FRAMING_NONE;
      writeHead(out, head);
      if (inline && withBody) out.ascii(chunk as string);
      else if (withBody) this.raw(chunk!, byteLength);
      if (withBody) this.written = byteLength;
    } else {
      this.finished = true;
      if (!this.sink.beginWrite()) return;
      if (chunk !== undefined) this.body(chunk, true);
      else if (this.framing === FRAMING_CHUNKED) this.sink.output.latin1('0\r\n\r\n');
    }
    this.sink.output.flushSoon();
    let keepAlive = this.keepAlive;
    if (this.framing === FRAMING_LENGTH && this.written !== this.declared && !this.isHead) {
      // The body is shorter than the Content-Length we announced: the client would wait forever.
      keepAlive = false;
    }
    this.sink.responseDone(this, keepAlive);
  }

  /**
   * Answers a WebSocket handshake with 101 and hands the connection to the server's
   * `websocket` handlers; `data` becomes `ws.data`, and headers set on this response go
   * into the 101. False when it cannot: a malformed handshake was answered already (400, or
   * 426 for another protocol version; `finished` is then true), and a request that did not
   * ask for a WebSocket at all is left for the handler to answer (426 on a WebSocket-only route).
   */
  upgrade(data?: unknown, headers?: HeadersLike): boolean {
    if (this.headersSent || this.finished) throw new Error('upgrade: the response was already started');
    if (this.dead) return false;
    if (headers !== undefined) for (const [k, v] of new Headers(headers)) this.appendHeader(k, v);
    return this.sink.upgrade(this, data);
  }

  /** True once upgrade() succeeded: the connection speaks WebSocket now. */
  get upgraded(): boolean {
    return this.switched;
  }

  /** @internal The header lines set so far ("Name: value\r\n" each), for a 101. */
  fieldLines(): string {
    let s = '';
    const f = this.fields;
    for (let i = 0; i < f.length; i += 3) s += `${f[i + 1]!}: ${f[i + 2]!}\r\n`;
    return s;
  }

  /** @internal The 101 is written: nothing else may be. */
  markUpgraded(): void {
    this.headersSent = true;
    this.finished = true;
    this.switched = true;
  }

  /** Resolves when the client has taken enough of the queued output; rejects if the connection closed. */
  drain(): Promise<void> {
    return this.sink.drained();
  }

  /** Writes the head now (for streaming with a known length, set Content-Length first). */
  flushHeaders(): void {
    if (!this.headersSent && !this.dead) {
      const head = this.head(-1);
      if (this.sink.beginWrite()) {
        writeHead(this.sink.output, head);
        this.sink.output.flushSoon();
      }
    }
  }

  /** Body bytes written so far (what an access log reports). */
  get bodyBytes(): number {
    return this.written;
  }

  /** True when the connection closed or answered for us (an error status): writes go nowhere. */
  get abandoned(): boolean {
    return this.dead;
  }

  /** @internal The connection gave up on this response; every later write is a no-op. */
  abandon(): void {
    this.dead = true;
    this.finished = true;
  }

  /** @internal Drops the handler's headers so an error status can be sent instead. */
  resetForError(status: number): void {
    this.fields = [];
    this.statusCode = status;
  }

  // ---- internals ----------------------------------------------------------

  private add(key: string, name: string, value: string): void {
    checkHeaderValue(name, value);
    this.fields.push(key, name, value);
  }

  private removeKey(key: string): void {
    const f = this.fields;
    for (let i = f.length - 3; i >= 0; i -= 3) if (f[i] === key) f.splice(i, 3);
  }

  /** Serializes the head and fixes the framing. `knownLength` >= 0 when end() carries the whole body. */
  private head(knownLength: number): string {
    const status = this.statusCode;
    const mayKeepAlive = this.sink.mayKeepAlive();
    const date = dateLine();
    const f = this.fields;
    const c = lastHead;
    if (
      c.status === status &&
      c.knownLength === knownLength &&
      c.date === date &&
      c.mayKeepAlive === mayKeepAlive &&
      c.isHead === this.isHead &&
      c.versionMinor === this.versionMinor &&
      sameFields(c.fields, f)
    ) {
      // Same inputs as the last response of this thread (a hot route): same head, kept encoded.
      c.bytes ??= Buffer.from(c.head, 'latin1');
      this.framing = c.framing;
      this.keepAlive = c.keepAlive;
      this.declared = c.declared;
      this.headersSent = true;
      return c.head;
    }
    const noBody = statusHasNoBody(status);
    let s = statusLine(status);
    let hasDate = false;
    let declared = -1;
    let keepAlive = mayKeepAlive;
    for (let i = 0; i < f.length; i += 3) {
      const k = f[i]!;
      const v = f[i + 2]!;
      const n = k.length;
      if (n === 14 && k === 'content-length') {
        if (noBody && status !== 304) continue;
        declared = parseDeclaredLength(v);
      } else if (n === 17 && k === 'transfer-encoding') {
        continue; // we frame the body ourselves
      } else if (n === 10 && k === 'connection') {
        if (lowerAscii(v).includes('close')) keepAlive = false;
        continue; // we say keep-alive/close ourselves
      } else if (n === 4 && k === 'date') {
        hasDate = true;
      }
      s += `${f[i + 1]!}: ${v}${CRLF}`;
    }
    if (!hasDate) s += date;
    let framing: number;
    if (noBody || (this.isHead && declared >= 0)) {
      framing = FRAMING_NONE;
    } else if (declared >= 0) {
      if (knownLength >= 0 && knownLength !== declared && !this.isHead) {
        throw new Error(`end(): body of ${knownLength} bytes but Content-Length is ${declared}`);
      }
      framing = FRAMING_LENGTH;
      this.declared = declared;
    } else if (knownLength >= 0) {
      s += `Content-Length: ${knownLength}${CRLF}`;
      framing = this.isHead ? FRAMING_NONE : FRAMING_LENGTH;
      this.declared = knownLength;
    } else if (this.isHead) {
      framing = FRAMING_NONE;
    } else if (this.versionMinor === 1) {
      s += `Transfer-Encoding: chunked${CRLF}`;
      framing = FRAMING_CHUNKED;
    } else {
      // HTTP/1.0 without a length: the body ends when the connection does.
      framing = FRAMING_CLOSE;
      keepAlive = false;
    }
    if (!keepAlive) s += `Connection: close${CRLF}`;
    else if (this.versionMinor === 0) s += `Connection: keep-alive${CRLF}`;
    this.framing = framing;
    this.keepAlive = keepAlive;
    this.headersSent = true;
    s += CRLF;
    // Fields are never mutated once the head is out (setHeader throws, resetForError replaces
    // the array), so keeping a reference is safe.
    c.status = status;
    c.knownLength = knownLength;
    c.date = date;
    c.mayKeepAlive = mayKeepAlive;
    c.isHead = this.isHead;
    c.versionMinor = this.versionMinor;
    c.fields = f;
    c.head = s;
    c.bytes = null;
    c.framing = framing;
    c.keepAlive = keepAlive;
    c.declared = this.declared;
    return s;
  }

  private body(chunk: string | Uint8Array, last: boolean): void {
    const out = this.sink.output;
    const n = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.isHead || this.framing === FRAMING_NONE) return;
    if (this.framing === FRAMING_LENGTH && this.written + n > this.declared) {
      throw new Error(`write: body exceeds the declared Content-Length of ${this.declared} bytes`);
    }
    this.written += n;
    if (this.framing === FRAMING_CHUNKED) {
      if (n > 0) {
        out.latin1(`${n.toString(16)}\r\n`);
        this.raw(chunk, n);
        out.latin1(last ? '\r\n0\r\n\r\n' : '\r\n');
      } else if (last) {
        out.latin1('0\r\n\r\n');
      }
      return;
    }
    if (n > 0) this.raw(chunk, n);
  }

  private raw(chunk: string | Uint8Array, byteLength: number): void {
    if (typeof chunk === 'string') this.sink.output.utf8(chunk, byteLength);
    else this.sink.output.bytes(chunk);
  }
}

/**
 * The last head this thread serialized and what it was made from: a server
 * answering the same route over and over reuses the string (no concatenation,
 * and a flat string writes faster). Module state: one per thread.
 */
const lastHead = {
  status: 0,
  knownLength: -2,
  date: '',
  mayKeepAlive: false,
  isHead: false,
  versionMinor: -1,
  fields: [] as string[],
  head: '',
  /** `head` encoded, once it is reused. */
  bytes: null as Uint8Array | null,
  framing: FRAMING_NONE,
  keepAlive: false,
  declared: -1,
};

function writeHead(out: Output, head: string): void {
  if (head === lastHead.head && lastHead.bytes !== null) out.bytes(lastHead.bytes);
  else out.latin1(head);
}

function sameFields(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseDeclaredLength(v: string): number {
  if (v.length === 0 || v.length > 15) throw new Error(`invalid Content-Length response header ${JSON.stringify(v)}`);
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new Error(`invalid Content-Length response header ${JSON.stringify(v)}`);
    n = n * 10 + (c - 0x30);
  }
  return n;
}
