/**
 * Incremental HTTP/1.1 response parser for the load generator. Thread: the
 * loop of the connection it belongs to. Owns only its framing state.
 *
 * It reads straight from the reactor's input buffer and never copies: the
 * caller presents the unconsumed bytes, gets back how many were consumed, and
 * presents the rest again (first) when more arrive. Headers are only looked at
 * for framing (status, Content-Length, Transfer-Encoding, Connection); bodies
 * are skipped, not stored. Anything that breaks framing throws
 * MalformedResponse, because after that no later byte on the connection can be
 * trusted to belong to a particular request.
 */

export class MalformedResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedResponse';
  }
}

/** Called for every complete final response; return false to stop parsing (the caller is closing). */
export type OnResponse = (status: number, keepAlive: boolean) => boolean;

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilEof,
}

const CR = 13;
const LF = 10;
const SP = 32;
const TAB = 9;
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4 * 1024;

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HTTP1 = bytes('HTTP/1.');
const CONTENT_LENGTH = bytes('content-length');
const TRANSFER_ENCODING = bytes('transfer-encoding');
const CONNECTION = bytes('connection');

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Case-insensitive compare of d[s..e) with a lowercase literal. */
function nameIs(d: Uint8Array, s: number, e: number, lit: Uint8Array): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    const c = d[s + i]!;
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lit[i]) return false;
  }
  return true;
}

function latin1Lower(d: Uint8Array, s: number, e: number): string {
  let out = '';
  for (let i = s; i < e; i++) {
    const c = d[i]!;
    out += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
  }
  return out;
}

/** Index just past the blank line ending a header block, or -1. Bare LF line ends are tolerated. */
function findHeadEnd(d: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    if (d[i] !== LF) continue;
    if (i + 1 < to && d[i + 1] === LF) return i + 2;
    if (i + 2 < to && d[i + 1] === CR && d[i + 2] === LF) return i + 3;
  }
  return -1;
}

function findLF(d: Uint8Array, from: number, to: number): number {
  const i = d.indexOf(LF, from);
  return i < 0 || i >= to ? -1 : i;
}

export class ResponseParser {
  private state = State.Head;
  /** Bytes of the current header block already searched for its end (rescanning would be quadratic). */
  private scanned = 0;
  /** Some bytes of a response are waiting in the caller's buffer. */
  private headPending = false;
  private remaining = 0;
  private status = 0;
  private keepAlive = true;

  constructor(
    private readonly onResponse: OnResponse,
    /** Responses to HEAD have headers only. */
    private readonly head = false,
  ) {}

  /** A response has started arriving but is not complete. */
  get midResponse(): boolean {
    return this.state !== State.Head || this.headPending;
  }

  /** Parse d; returns the bytes consumed. Unconsumed bytes must be passed again, first, next time. */
  execute(d: Uint8Array): number {
    const n = d.length;
    let p = 0;
    while (p < n) {
      switch (this.state) {
        case State.Head: {
          // Tolerate stray line breaks between responses (some servers end bodies with an extra CRLF).
          if (this.scanned === 0) {
            while (p < n && (d[p] === CR || d[p] === LF)) p++;
            if (p === n) break;
          }
          const end = findHeadEnd(d, p + Math.max(0, this.scanned - 2), n);
          if (end < 0) {
            if (n - p > MAX_HEAD) throw new MalformedResponse(`response head larger than ${MAX_HEAD} bytes`);
            this.scanned = n - p;
            this.headPending = true;
            return p;
          }
          this.scanned = 0;
          this.headPending = false;
          const interim = this.parseHead(d, p, end);
          p = end;
          if (!interim && this.state === State.Head && !this.complete()) return p;
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, n - p);
          p += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = State.Head;
            if (!this.complete()) return p;
          }
          break;
        }
        case State.ChunkSize: {
          const lf = findLF(d, p, n);
          if (lf < 0) {
            if (n - p > MAX_LINE) throw new MalformedResponse('chunk size line too long');
            return p;
          }
          this.remaining = this.parseChunkSize(d, p, lf);
          p = lf + 1;
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - p);
          p += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          if (d[p] === LF) p += 1;
          else if (d[p] === CR) {
            if (p + 1 === n) return p;
            if (d[p + 1] !== LF) throw new MalformedResponse('chunk data not followed by CRLF');
            p += 2;
          } else throw new MalformedResponse('chunk data longer than its size');
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const lf = findLF(d, p, n);
          if (lf < 0) {
            if (n - p > MAX_LINE) throw new MalformedResponse('trailer line too long');
            return p;
          }
          const empty = lf === p || (lf === p + 1 && d[p] === CR);
          p = lf + 1;
          if (empty) {
            this.state = State.Head;
            if (!this.complete()) return p;
          }
          break;
        }
        case State.UntilEof:
          p = n;
          break;
      }
    }
    return p;
  }

  /**
   * The peer closed its side. Returns true when that completed a response
   * (one delimited by the close); false when nothing or a partial response was pending.
   */
  eof(): boolean {
    if (this.state !== State.UntilEof) return false;
    this.state = State.Head;
    this.onResponse(this.status, false);
    return true;
  }

  /** Forget everything (a new connection). */
  reset(): void {
    this.state = State.Head;
    this.scanned = 0;
    this.headPending = false;
    this.remaining = 0;
  }

  private complete(): boolean {
    return this.onResponse(this.status, this.keepAlive);
  }

  /** Parses d[s..e), sets the body state; returns true for an interim (1xx) response to skip. */
  private parseHead(d: Uint8Array, s: number, e: number): boolean {
    // Status line: HTTP/1.x SSS[ reason]
    for (let i = 0; i < HTTP1.length; i++) {
      if (d[s + i] !== HTTP1[i]) throw new MalformedResponse(`not an HTTP/1.x status line: ${this.preview(d, s, e)}`);
    }
    const minor = d[s + 7]!;
    const c9 = d[s + 9]!;
    const c10 = d[s + 10]!;
    const c11 = d[s + 11]!;
    const after = d[s + 12];
    if (
      !isDigit(minor) ||
      d[s + 8] !== SP ||
      !isDigit(c9) ||
      !isDigit(c10) ||
      !isDigit(c11) ||
      (after !== SP && after !== CR && after !== LF)
    ) {
      throw new MalformedResponse(`bad status line: ${this.preview(d, s, e)}`);
    }
    const status = (c9 - 48) * 100 + (c10 - 48) * 10 + (c11 - 48);
    if (status < 100) throw new MalformedResponse(`bad status code ${status}`);

    let contentLength = -1;
    let chunked = false;
    let close = false;
    let keepAliveToken = false;
    let line = findLF(d, s, e) + 1;
    while (line < e) {
      const lf = findLF(d, line, e);
      let end = lf;
      if (end > line && d[end - 1] === CR) end--;
      if (end === line) break; // the blank line
      if (d[line] === SP || d[line] === TAB) {
        throw new MalformedResponse('obsolete header line folding');
      }
      const colon = d.indexOf(58, line);
      if (colon < 0 || colon >= end) throw new MalformedResponse(`header line without a colon: ${this.preview(d, line, end)}`);
      let vs = colon + 1;
      let ve = end;
      while (vs < ve && (d[vs] === SP || d[vs] === TAB)) vs++;
      while (ve > vs && (d[ve - 1] === SP || d[ve - 1] === TAB)) ve--;
      if (nameIs(d, line, colon, CONTENT_LENGTH)) {
        if (ve === vs) throw new MalformedResponse('empty Content-Length');
        let v = 0;
        for (let i = vs; i < ve; i++) {
          const c = d[i]!;
          if (!isDigit(c)) throw new MalformedResponse(`bad Content-Length: ${this.preview(d, vs, ve)}`);
          v = v * 10 + (c - 48);
        }
        if (v > Number.MAX_SAFE_INTEGER) throw new MalformedResponse('Content-Length too large');
        if (contentLength >= 0 && contentLength !== v) throw new MalformedResponse('conflicting Content-Length headers');
        contentLength = v;
      } else if (nameIs(d, line, colon, TRANSFER_ENCODING)) {
        const codings = latin1Lower(d, vs, ve).split(',');
        chunked = codings[codings.length - 1]!.trim() === 'chunked';
      } else if (nameIs(d, line, colon, CONNECTION)) {
        for (const tok of latin1Lower(d, vs, ve).split(',')) {
          const t = tok.trim();
          if (t === 'close') close = true;
          else if (t === 'keep-alive') keepAliveToken = true;
        }
      }
      line = lf + 1;
    }

    if (status < 200 && status !== 101) return true;
    this.status = status;
    this.keepAlive = !close && (minor >= 49 || keepAliveToken) && status !== 101;
    if (this.head || status === 204 || status === 304 || status === 101) {
      this.state = State.Head;
    } else if (chunked) {
      this.state = State.ChunkSize;
    } else if (contentLength > 0) {
      this.state = State.Length;
      this.remaining = contentLength;
    } else if (contentLength === 0) {
      this.state = State.Head;
    } else {
      // No length and not chunked: the body ends when the server closes.
      this.state = State.UntilEof;
      this.keepAlive = false;
    }
    return false;
  }

  private parseChunkSize(d: Uint8Array, s: number, lf: number): number {
    let v = 0;
    let i = s;
    for (; i < lf; i++) {
      const c = d[i]!;
      const h = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (h < 0) break;
      v = v * 16 + h;
    }
    if (i === s) throw new MalformedResponse(`bad chunk size: ${this.preview(d, s, lf)}`);
    if (v > Number.MAX_SAFE_INTEGER) throw new MalformedResponse('chunk size too large');
    // What may follow the digits: whitespace, extensions, the CR.
    const c = d[i];
    if (i < lf && c !== CR && c !== 59 /* ; */ && c !== SP && c !== TAB) {
      throw new MalformedResponse(`bad chunk size: ${this.preview(d, s, lf)}`);
    }
    return v;
  }

  private preview(d: Uint8Array, s: number, e: number): string {
    const line = findLF(d, s, e);
    const stop = Math.min(line < 0 ? e : line, s + 60);
    return JSON.stringify(Buffer.from(d.buffer, d.byteOffset + s, Math.max(0, stop - s)).toString('latin1'));
  }
}
