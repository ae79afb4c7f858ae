/**
 * The sends of one loop turn, gathered: while a batch of events is being
 * handled, a connection's writes are copied into one arena, and at the end of
 * the turn one crossing (native sendBatch) hands them all to the kernel. The
 * system calls then run back to back, and the JavaScript of the turn runs
 * between none of them: each syscall evicts what the code around it had in
 * cache, so a turn of interleaved recv/parse/send pays for that once per
 * request, a gathered turn far less (see bench:http's reactor floor row).
 *
 * Order is kept: a connection with bytes in the batch sends everything else
 * through it too, anything that must not wait (a large body, a FIN, a close)
 * flushes the batch first, and once a send to an fd comes back short the
 * native side skips that fd's later ones, which then queue behind the rest.
 * Thread: its loop's. Owns the arena and the ops table.
 */
import { native } from '../native/binding.js';

/** Writes larger than this are not copied: the batch is flushed and they go out as they are. */
export const BATCH_MAX_WRITE = 64 * 1024;
/** The arena never grows beyond this; a write that would not fit flushes first. */
const ARENA_MAX = 1024 * 1024;

/** What a connection does with the kernel's answer to its gathered writes. */
export interface BatchedSender {
  /** First, for every write of the batch before any user code runs: what was taken, what must queue. */
  batchedBook(result: number, arena: Uint8Array, offset: number, length: number): void;
  /** Then, in order: completion, backpressure and error callbacks. */
  batchedAfter(result: number, length: number): void;
}

export class SendBatch {
  /** Grown on first use: a loop whose connections never gather holds none of it. */
  private arena = new Uint8Array(0);
  private used = 0;
  private ops = new Int32Array(256 * 4);
  private senders: BatchedSender[] = [];
  private count = 0;

  /** Whether `length` more bytes fit without a flush. */
  fits(length: number): boolean {
    return length <= BATCH_MAX_WRITE && this.used + length <= ARENA_MAX;
  }

  /** Copies bytes[offset, offset + length) in, to be sent to fd at flush. */
  add(sender: BatchedSender, fd: number, bytes: Uint8Array, offset: number, length: number): void {
    if (this.used + length > this.arena.length) this.growArena(this.used + length);
    if ((this.count + 1) * 4 > this.ops.length) {
      const next = new Int32Array(this.ops.length * 2);
      next.set(this.ops);
      this.ops = next;
    }
    const at = this.used;
    const a = this.arena;
    if (length <= 256) {
      // A response head and a short body: a loop copies them cheaper than a view and set().
      for (let i = 0; i < length; i++) a[at + i] = bytes[offset + i]!;
    } else {
      a.set(offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length), at);
    }
    const o = this.count * 4;
    this.ops[o] = fd;
    this.ops[o + 1] = at;
    this.ops[o + 2] = length;
    this.senders[this.count] = sender;
    this.count++;
    this.used = at + length;
  }

  /** Sends everything gathered, then tells each sender what the kernel took. */
  flush(): void {
    const n = this.count;
    if (n === 0) return;
    native.sendBatch(this.ops, n, this.arena);
    const senders = this.senders;
    // Pass 1, no user code: each connection queues what the kernel did not take, so nothing
    // written from a callback below can overtake it.
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      senders[i]!.batchedBook(this.ops[o + 3]!, this.arena, this.ops[o + 1]!, this.ops[o + 2]!);
    }
    // The answers outlive the tables: a callback may start the next batch.
    const results = this.ops.slice(0, n * 4);
    this.senders = [];
    this.count = 0;
    this.used = 0;
    // Pass 2: completions, backpressure and errors, in order.
    for (let i = 0; i < n; i++) senders[i]!.batchedAfter(results[i * 4 + 3]!, results[i * 4 + 2]!);
  }

  private growArena(need: number): void {
    let size = Math.max(64 * 1024, this.arena.length * 2);
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.arena.subarray(0, this.used));
    this.arena = next;
  }
}
