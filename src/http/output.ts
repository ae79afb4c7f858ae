/**
 * Where response bytes of one loop collect before they reach the kernel: one
 * scratch buffer, written as latin1/utf8/bytes and handed to one
 * `conn.send()`. Responses to pipelined requests, produced within one batch of
 * input, therefore leave in one send. The buffer belongs to one connection at
 * a time (its `owner`); writing for another connection flushes first, so
 * bytes never cross connections or reorder.
 * Thread: one loop thread. Owns the scratch buffer.
 */
import type { TcpConnection } from '../reactor/TcpConnection.js';
import { writeHeader } from '../ws/frame.js';

const INITIAL = 64 * 1024;
/** Bodies at least this large skip the scratch buffer and go to the connection as they are. */
export const DIRECT_SEND_BYTES = 32 * 1024;
/** Never grow the scratch beyond this; larger writes are flushed through in pieces. */
const MAX_SCRATCH = 1024 * 1024;

interface NodeBufferWrites {
  latin1Write(s: string, offset: number, length?: number): number;
  utf8Write(s: string, offset: number, length?: number): number;
}

export class Output {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL);
  private len = 0;
  owner: TcpConnection | null = null;
  private scheduled = false;
  /** Set while a batch of input is processed: the batch end flushes, not a microtask. */
  batching = 0;

  /** Claims the scratch for `conn`, flushing another owner's bytes first. */
  begin(conn: TcpConnection): void {
    if (this.owner !== conn) {
      if (this.len > 0) this.flush();
      this.owner = conn;
    }
  }

  get pending(): number {
    return this.len;
  }

  /** `s` must be latin1 (heads are validated to be). */
  latin1(s: string): void {
    const n = s.length;
    if (this.len + n > this.buf.length) this.makeRoom(n);
    if (n > this.buf.length) {
      this.direct(Buffer.from(s, 'latin1'));
      return;
    }
    this.len += (this.buf as unknown as NodeBufferWrites).latin1Write(s, this.len, n);
  }

  /** `s` must be ASCII; short strings are copied by a loop (cheaper than a native call). */
  ascii(s: string): void {
    const n = s.length;
    if (n > 64) {
      this.latin1(s);
      return;
    }
    if (this.len + n > this.buf.length) this.makeRoom(n);
    const b = this.buf;
    let o = this.len;
    for (let i = 0; i < n; i++) b[o++] = s.charCodeAt(i);
    this.len = o;
  }

  utf8(s: string, byteLength: number): void {
    if (this.len + byteLength > this.buf.length) this.makeRoom(byteLength);
    if (byteLength > this.buf.length) {
      this.direct(Buffer.from(s, 'utf8'));
      return;
    }
    this.len += (this.buf as unknown as NodeBufferWrites).utf8Write(s, this.len, byteLength);
  }

  /** A WebSocket frame header (RFC 6455 5.2, unmasked: 2, 4 or 10 bytes), room made once. */
  frameHeader(first: number, len: number): void {
    if (this.len + 10 > this.buf.length) this.makeRoom(10);
    this.len = writeHeader(this.buf, this.len, first, len);
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    if (n >= DIRECT_SEND_BYTES) {
      this.direct(b);
      return;
    }
    if (this.len + n > this.buf.length) this.makeRoom(n);
    this.buf.set(b, this.len);
    this.len += n;
  }

  /** Sends `b` to `conn` as it is, without a copy into the scratch (after what is pending; `b` may be shared). */
  sendTo(conn: TcpConnection, b: Uint8Array): void {
    this.begin(conn);
    this.direct(b);
  }

  /** Sends what has collected for the owner. Returns conn.send's backpressure verdict. */
  flush(): boolean {
    this.scheduled = false;
    const conn = this.owner;
    const n = this.len;
    this.len = 0;
    if (conn === null || n === 0) return true;
    if (conn.isClosed) return false;
    // No view per flush: send() copies what it cannot write, so the scratch is free again at once.
    return conn.sendRange(this.buf, 0, n);
  }

  /** Flushes at the end of the current batch, or in a microtask when no batch runs. */
  flushSoon(): void {
    if (this.batching > 0 || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.flushTask);
  }

  private readonly flushTask = (): void => {
    if (this.scheduled) this.flush();
  };

  private direct(b: Uint8Array): void {
    this.flush();
    const conn = this.owner;
    if (conn !== null && !conn.isClosed) conn.send(b);
  }

  private makeRoom(n: number): void {
    this.flush();
    if (n > this.buf.length && n <= MAX_SCRATCH) {
      let size = this.buf.length;
      while (size < n) size *= 2;
      this.buf = Buffer.allocUnsafe(size);
    }
  }
}
