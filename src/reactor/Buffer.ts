/**
 * muduo's Buffer: a growable byte array with a prependable area, a reader
 * index and a writer index. Thread: the loop that owns its connection.
 * Owns its backing Uint8Array (a loop's shared read buffer owns one too).
 *
 *   | prependable | readable (r..w) | writable (w..end) |
 */
const PREPEND = 8;
const CRLF_CR = 13;
const CRLF_LF = 10;

export class Buffer {
  data: Uint8Array;
  r: number;
  w: number;

  constructor(initialSize = 1024) {
    this.data = new Uint8Array(PREPEND + initialSize);
    this.r = PREPEND;
    this.w = PREPEND;
  }

  get readableBytes(): number {
    return this.w - this.r;
  }

  get writableBytes(): number {
    return this.data.length - this.w;
  }

  get prependableBytes(): number {
    return this.r;
  }

  /** A view of the readable bytes. Valid until the buffer is next written to. */
  peek(): Uint8Array {
    return this.data.subarray(this.r, this.w);
  }

  retrieve(n: number): void {
    if (n < this.readableBytes) this.r += n;
    else this.retrieveAll();
  }

  retrieveAll(): void {
    this.r = PREPEND;
    this.w = PREPEND;
  }

  /** Copies n readable bytes out and consumes them. */
  retrieveAsBytes(n: number): Uint8Array {
    n = Math.min(n, this.readableBytes);
    const out = this.data.slice(this.r, this.r + n);
    this.retrieve(n);
    return out;
  }

  retrieveAllAsBytes(): Uint8Array {
    return this.retrieveAsBytes(this.readableBytes);
  }

  retrieveAllAsString(encoding: BufferEncoding = 'utf8'): string {
    const s = globalThis.Buffer.from(this.data.buffer, this.data.byteOffset + this.r, this.readableBytes).toString(encoding);
    this.retrieveAll();
    return s;
  }

  append(bytes: Uint8Array | string, offset = 0, length?: number): void {
    if (typeof bytes === 'string') bytes = globalThis.Buffer.from(bytes);
    const len = length ?? bytes.length - offset;
    this.ensureWritable(len);
    this.data.set(len === bytes.length && offset === 0 ? bytes : bytes.subarray(offset, offset + len), this.w);
    this.w += len;
  }

  /** Makes room for len more bytes: compacts first, grows only when compaction is not enough. */
  ensureWritable(len: number): void {
    if (this.writableBytes >= len) return;
    const readable = this.readableBytes;
    if (this.writableBytes + this.r - PREPEND >= len) {
      this.data.copyWithin(PREPEND, this.r, this.w);
    } else {
      let size = this.data.length * 2;
      while (size < PREPEND + readable + len) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.data.subarray(this.r, this.w), PREPEND);
      this.data = next;
    }
    this.r = PREPEND;
    this.w = PREPEND + readable;
  }

  /** Marks n bytes written directly into data[w..] (after a recv into writable space). */
  hasWritten(n: number): void {
    this.w += n;
  }

  /** Writes a header in front of the readable bytes (e.g. a length prefix) without moving them. */
  prepend(bytes: Uint8Array): void {
    if (bytes.length > this.r) throw new RangeError('prepend: not enough prependable space');
    this.r -= bytes.length;
    this.data.set(bytes, this.r);
  }

  /** Offset (relative to the readable start) of the first CRLF at or after `from`, or -1. */
  findCRLF(from = 0): number {
    const d = this.data;
    for (let i = this.r + from; i + 1 < this.w; i++) {
      if (d[i] === CRLF_CR && d[i + 1] === CRLF_LF) return i - this.r;
    }
    return -1;
  }

  /** Drops a large backing array once it is empty, so idle connections stay small. */
  shrinkIfEmpty(keep = 1024): void {
    if (this.readableBytes === 0 && this.data.length > PREPEND + keep) {
      this.data = new Uint8Array(PREPEND + keep);
      this.r = PREPEND;
      this.w = PREPEND;
    }
  }
}
