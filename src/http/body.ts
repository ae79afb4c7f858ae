/**
 * A request body as it arrives: a bounded queue of chunks the handler reads
 * as an async iterable, a Web ReadableStream, or whole with bytes()/text()/json().
 * When the handler does not keep up, the queue fills, the connection stops
 * parsing and pauses reading, and TCP flow control pushes back on the client.
 * Thread: the loop thread of its connection. Owns the queued chunks (copies:
 * the bytes it is given live in the reactor's read buffer).
 */

/** What a body needs from its connection. */
export interface BodySource {
  /** The handler started reading: time to send `100 Continue` if the client asked for it. */
  bodyWanted(): void;
  /** The queue shrank below its low-water mark: parsing and reading may resume. */
  bodyDrained(): void;
}

/** Queue above this: stop feeding. A `bytes()` call lifts it (the size is bounded by maxBodyBytes). */
export const BODY_HIGH_WATER = 64 * 1024;
const BODY_LOW_WATER = 16 * 1024;
/** bytes(): the first allocation for the whole body, before it grows with what arrives. */
const WHOLE_INITIAL = 64 * 1024;

const OPEN = 0;
const ENDED = 1;
const FAILED = 2;

type Waiter = { resolve: (v: Uint8Array | null) => void; reject: (e: unknown) => void };

const EMPTY = new Uint8Array(0);

export class RequestBody implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = [];
  private first = 0;
  /** Bytes queued and not yet read. */
  buffered = 0;
  /** Bytes received so far. */
  received = 0;
  private state = OPEN;
  private error: unknown = null;
  private waiter: Waiter | null = null;
  /** bytes(): the whole body lands here, copied once. */
  private whole: Uint8Array | null = null;
  private wholeLen = 0;
  private wholeWaiters: Waiter[] | null = null;
  private used = false;
  private wanted = false;

  constructor(
    private readonly source: BodySource | null,
    /** The declared Content-Length, or -1 for chunked. */
    readonly expectedLength: number,
  ) {
    if (source === null) this.state = ENDED;
  }

  /** A body that is already complete and empty (requests without one share nothing mutable but this). */
  static empty(): RequestBody {
    return new RequestBody(null, 0);
  }

  // ---- producer side (the connection) ------------------------------------

  /** True while the queue is over its high-water mark and nobody collects the whole body. */
  get full(): boolean {
    return this.buffered >= BODY_HIGH_WATER && this.wholeWaiters === null;
  }

  get ended(): boolean {
    return this.state !== OPEN;
  }

  push(data: Uint8Array, start: number, end: number): void {
    if (this.state !== OPEN) return;
    const n = end - start;
    this.received += n;
    if (this.wholeWaiters !== null) {
      this.appendWhole(data, start, end);
      return;
    }
    const chunk = data.slice(start, end);
    const w = this.waiter;
    if (w !== null && this.buffered === 0) {
      this.waiter = null;
      w.resolve(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += n;
  }

  end(): void {
    if (this.state !== OPEN) return;
    this.state = ENDED;
    if (this.wholeWaiters !== null) this.settleWhole();
    const w = this.waiter;
    if (w !== null && this.buffered === 0) {
      this.waiter = null;
      w.resolve(null);
    }
  }

  fail(err: unknown): void {
    if (this.state !== OPEN) return;
    this.state = FAILED;
    this.error = err;
    this.chunks = [];
    this.buffered = 0;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
    const ws = this.wholeWaiters;
    this.wholeWaiters = null;
    if (ws) for (const x of ws) x.reject(err);
  }

  // ---- consumer side (the handler) ---------------------------------------

  /** The next chunk, or null at the end. Rejects if the request was aborted or malformed. */
  read(): Promise<Uint8Array | null> {
    this.want();
    if (this.buffered > 0) {
      const c = this.chunks[this.first]!;
      this.chunks[this.first++] = EMPTY;
      if (this.first === this.chunks.length) {
        this.chunks = [];
        this.first = 0;
      }
      const before = this.buffered;
      this.buffered -= c.length;
      if (before >= BODY_LOW_WATER && this.buffered < BODY_LOW_WATER) this.source?.bodyDrained();
      return Promise.resolve(c);
    }
    if (this.state === ENDED) return Promise.resolve(null);
    if (this.state === FAILED) return Promise.reject(this.error);
    if (this.waiter !== null) return Promise.reject(new Error('request body: concurrent read() calls'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.source?.bodyDrained();
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.markUsed();
    for (;;) {
      const c = await this.read();
      if (c === null) return;
      yield c;
    }
  }

  /** The whole body, copied once into one array. */
  bytes(): Promise<Uint8Array> {
    if (this.used) return Promise.reject(new TypeError('request body already used'));
    this.used = true;
    this.want();
    if (this.state === FAILED) return Promise.reject(this.error);
    if (this.state === ENDED && this.whole === null) {
      // Common case: the body arrived with the head, before the handler asked.
      const out = concat(this.chunks, this.first, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      return Promise.resolve(out);
    }
    return new Promise<Uint8Array | null>((resolve, reject) => {
      if (this.wholeWaiters === null) {
        this.wholeWaiters = [];
        // Sized by what has arrived, not by the declared length: a client may
        // declare maxBodyBytes and send nothing, once per connection. The array
        // grows geometrically (appendWhole), capped at the declared length, so a
        // complete body still ends in an array of exactly its size.
        const start = Math.max(this.buffered, WHOLE_INITIAL);
        this.whole = new Uint8Array(this.expectedLength >= 0 ? Math.min(this.expectedLength, start) : start);
        this.wholeLen = 0;
        for (let i = this.first; i < this.chunks.length; i++) this.appendWhole(this.chunks[i]!, 0, this.chunks[i]!.length);
        this.chunks = [];
        this.first = 0;
        this.buffered = 0;
        // Collecting lifts the high-water mark: let the connection feed us.
        this.source?.bodyDrained();
      }
      this.wholeWaiters.push({ resolve, reject });
      if (this.state === ENDED) this.settleWhole();
    }) as Promise<Uint8Array>;
  }

  async text(): Promise<string> {
    const b = await this.bytes();
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  /** A Web ReadableStream over the same chunks, pulled on demand (backpressure preserved). */
  stream(): ReadableStream<Uint8Array> {
    this.markUsed();
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const c = await this.read();
            if (c === null) controller.close();
            else controller.enqueue(c);
          } catch (err) {
            controller.error(err);
          }
        },
      },
      { highWaterMark: 0 },
    );
  }

  get bodyUsed(): boolean {
    return this.used;
  }

  private markUsed(): void {
    if (this.used) throw new TypeError('request body already used');
    this.used = true;
  }

  private want(): void {
    if (!this.wanted) {
      this.wanted = true;
      this.source?.bodyWanted();
    }
  }

  private appendWhole(data: Uint8Array, start: number, end: number): void {
    const n = end - start;
    let w = this.whole!;
    if (this.wholeLen + n > w.length) {
      let size = Math.max(w.length * 2, this.wholeLen + n);
      // The parser never pushes past a declared length; stopping there saves the final trim's copy.
      if (this.expectedLength >= this.wholeLen + n) size = Math.min(size, this.expectedLength);
      const next = new Uint8Array(size);
      next.set(w.subarray(0, this.wholeLen));
      this.whole = w = next;
    }
    w.set(start === 0 && end === data.length ? data : data.subarray(start, end), this.wholeLen);
    this.wholeLen += n;
  }

  private settleWhole(): void {
    const out = this.whole!.length === this.wholeLen ? this.whole! : this.whole!.slice(0, this.wholeLen);
    const ws = this.wholeWaiters!;
    this.whole = null;
    this.wholeWaiters = null;
    for (const x of ws) x.resolve(out);
  }
}

function concat(chunks: Uint8Array[], first: number, total: number): Uint8Array {
  if (chunks.length - first === 1) return chunks[first]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (let i = first; i < chunks.length; i++) {
    out.set(chunks[i]!, off);
    off += chunks[i]!.length;
  }
  return out;
}
