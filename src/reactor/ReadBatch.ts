/**
 * The reads of one loop turn, made together: before a batch of events is
 * handed out, every readable connection that asked for it (gatherReads) is
 * read in one crossing (native recvBatch) into a slot of one arena, and its
 * handler then starts from those bytes instead of a recv of its own. As with
 * SendBatch, the system calls run back to back and the turn's JavaScript runs
 * between none of them.
 *
 * A slot holds SLOT bytes: a read that fills it is followed by an ordinary
 * recv at once, so large uploads move as fast as before.
 * Thread: its loop's. Owns the arena and the ops table.
 */
import { native } from '../native/binding.js';
import { Buffer } from './Buffer.js';

/** Bytes per connection per turn read ahead; a request head fits, a larger read goes on by recv. */
export const READ_SLOT = 4096;

/** A connection that takes its turn's first read from the batch. */
export interface BatchedReader {
  readonly fd: number;
  /** Whether this connection wants its turn's first read made here. */
  readonly gatherReads: boolean;
  /** Set by the batch: the recv result (bytes, 0 at EOF, -errno) and where the bytes are. */
  prefetched: number;
  prefetchAt: number;
}

/** `prefetched` when nothing was read ahead. */
export const NOTHING_READ = -0x7fffffff;

export class ReadBatch {
  /** Made on first use: a loop that never serves HTTP (a client's, a test's) holds none of it. */
  private arena: Uint8Array | null = null;
  private readonly ops: Int32Array;
  private readonly readers: (BatchedReader | undefined)[];
  private count = 0;
  /** A view of one slot for the handler (data is the arena; r and w move per read). */
  private readonly view = new Buffer(0);

  constructor(private readonly maxEvents: number) {
    this.ops = new Int32Array(maxEvents * 4);
    this.readers = new Array<BatchedReader | undefined>(maxEvents).fill(undefined);
  }

  /** Queues a read for this turn (at most maxEvents, one per event). */
  add(reader: BatchedReader): void {
    if (this.arena === null) {
      this.arena = new Uint8Array(this.maxEvents * READ_SLOT);
      this.view.data = this.arena;
    }
    const i = this.count++;
    const o = i * 4;
    this.ops[o] = reader.fd;
    this.ops[o + 1] = i * READ_SLOT;
    this.ops[o + 2] = READ_SLOT;
    this.readers[i] = reader;
  }

  /** Reads them all, and tells each reader its result. */
  run(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    native.recvBatch(this.ops, n, this.arena!);
    for (let i = 0; i < n; i++) {
      const r = this.readers[i]!;
      this.readers[i] = undefined;
      r.prefetched = this.ops[i * 4 + 3]!;
      r.prefetchAt = i * READ_SLOT;
    }
  }

  /** The view over a reader's bytes, n of them at `at`. */
  slot(at: number, n: number): Buffer {
    const v = this.view;
    v.r = at;
    v.w = at + n;
    return v;
  }
}
