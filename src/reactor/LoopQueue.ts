/**
 * A cross-thread message queue into one EventLoop: a ring of fixed-size int32
 * messages in a SharedArrayBuffer plus an eventfd the target loop watches.
 * Thread: producers on any thread, the consumer on the target loop's thread.
 * Owns the ring memory; the eventfd is owned by the consuming loop.
 *
 * Only plain integers cross (an accepted fd, a command code): JS objects never
 * do, so no mutable state is shared between threads (pitfall 7). Producers
 * take a tiny spin lock because the dispatcher and the main thread may both
 * post; the consumer needs none.
 */
import { native } from '../native/binding.js';
import { check } from '../native/errors.js';

export const MSG_WORDS = 4;
const HEAD = 0; // next slot to read (consumer)
const TAIL = 1; // next slot to write (producers)
const LOCK = 2;
const HEADER = 4;

export const QueueMsg = {
  /** a: fd accepted by another loop, now owned by the target. */
  NewConnection: 1,
  /** a: graceful-stop timeout in ms. */
  Stop: 2,
  /** From here on: free for layers above. */
  User: 100,
} as const;

export interface QueueHandle {
  sab: SharedArrayBuffer;
  eventfd: number;
}

export class LoopQueue {
  readonly words: Int32Array;
  readonly capacity: number;
  private readonly mask: number;

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly eventfd: number,
  ) {
    this.words = new Int32Array(sab);
    this.capacity = (this.words.length - HEADER) / MSG_WORDS;
    this.mask = this.capacity - 1;
  }

  /** capacity is rounded up to a power of two so int32 indices wrap cleanly. */
  static create(capacity = 4096): LoopQueue {
    capacity = 1 << Math.ceil(Math.log2(Math.max(2, capacity)));
    const sab = new SharedArrayBuffer((HEADER + capacity * MSG_WORDS) * 4);
    return new LoopQueue(sab, check(native.eventfd(), 'eventfd'));
  }

  static from(h: QueueHandle): LoopQueue {
    return new LoopQueue(h.sab, h.eventfd);
  }

  get handle(): QueueHandle {
    return { sab: this.sab, eventfd: this.eventfd };
  }

  /** Posts one message and wakes the target loop. False when the ring is full (retry later). */
  post(type: number, a = 0, b = 0, c = 0): boolean {
    const w = this.words;
    while (Atomics.compareExchange(w, LOCK, 0, 1) !== 0) {
      // Producers hold the lock for a handful of stores; spinning is cheaper than waiting.
    }
    try {
      const head = Atomics.load(w, HEAD);
      const tail = Atomics.load(w, TAIL);
      if (((tail - head) | 0) >= this.capacity) return false;
      const base = HEADER + (tail & this.mask) * MSG_WORDS;
      w[base] = type;
      w[base + 1] = a;
      w[base + 2] = b;
      w[base + 3] = c;
      Atomics.store(w, TAIL, (tail + 1) | 0);
    } finally {
      Atomics.store(w, LOCK, 0);
    }
    native.eventfdWrite(this.eventfd, 1);
    return true;
  }

  /** Consumer side: clears the eventfd, then hands every queued message to fn. */
  drain(fn: (type: number, a: number, b: number, c: number) => void): number {
    native.eventfdRead(this.eventfd);
    const w = this.words;
    let n = 0;
    for (;;) {
      const head = Atomics.load(w, HEAD);
      if (head === Atomics.load(w, TAIL)) break;
      const base = HEADER + (head & this.mask) * MSG_WORDS;
      const type = w[base]!;
      const a = w[base + 1]!;
      const b = w[base + 2]!;
      const c = w[base + 3]!;
      Atomics.store(w, HEAD, (head + 1) | 0);
      n++;
      fn(type, a, b, c);
    }
    return n;
  }

  get length(): number {
    return (Atomics.load(this.words, TAIL) - Atomics.load(this.words, HEAD)) | 0;
  }
}
