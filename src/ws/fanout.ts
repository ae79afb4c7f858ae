/**
 * Published frames on their way to this loop's subscribers within one loop
 * turn. Each frame published on the loop in the turn is appended once to the
 * turn's journal. A subscriber's queue is a run of that journal (from, to)
 * as long as it got every frame in between, the common case, which costs no
 * allocation per delivery; after a gap (another topic's frame, its own
 * publish, a drop) it becomes a list of its own. When the turn ends each
 * subscriber gets one write, and subscribers with the same run (or the same
 * list) share one joined buffer.
 * Thread: its loop's. Owns the journal and the list of subscribers to flush;
 * each FrameQueue belongs to one socket.
 */
import type { EventLoop } from '../reactor/EventLoop.js';
import type { TcpConnection } from '../reactor/TcpConnection.js';
import type { Output } from '../http/output.js';

/** What one subscriber has been published this turn and not yet written. */
export class FrameQueue {
  private journal: Uint8Array[] | null = null;
  private from = 0;
  private to = 0;
  private list: Uint8Array[] | null = null;
  /** Bytes queued (they count towards the socket's backpressure). */
  bytes = 0;

  get isEmpty(): boolean {
    return this.journal === null && this.list === null;
  }

  /** Queues journal[index]; true when the queue was empty (its owner must join the turn's flush). */
  add(journal: Uint8Array[], index: number, frame: Uint8Array): boolean {
    this.bytes += frame.length;
    if (this.list !== null) {
      this.list.push(frame);
      return false;
    }
    if (this.journal === null) {
      this.journal = journal;
      this.from = index;
      this.to = index + 1;
      return true;
    }
    if (this.journal === journal && this.to === index) {
      this.to++;
      return false;
    }
    this.list = this.journal.slice(this.from, this.to);
    this.list.push(frame);
    this.journal = null;
    return false;
  }

  /** Writes the queued frames into `out` for `conn`, in order, and empties the queue. */
  writeTo(out: Output, conn: TcpConnection): void {
    const { journal, from, to, list } = this;
    this.clear();
    out.begin(conn);
    if (list !== null) for (const f of list) out.bytes(f);
    else if (journal !== null) for (let i = from; i < to; i++) out.bytes(journal[i] ?? EMPTY);
  }

  clear(): void {
    this.journal = null;
    this.list = null;
    this.bytes = 0;
  }

  /** The queued frames as one buffer, reusing `last` when it holds the same frames; empties the queue. */
  take(last: Joined): Joined {
    const { journal, from, to, list } = this;
    this.clear();
    if (list !== null) {
      if (last.list !== null && sameFrames(list, last.list)) return last;
      return { journal: null, from: 0, to: 0, list, bytes: join(list) };
    }
    if (journal === null) return NOTHING;
    if (last.journal === journal && last.from === from && last.to === to) return last;
    return { journal, from, to, list: null, bytes: to - from === 1 ? (journal[from] ?? EMPTY) : join(journal.slice(from, to)) };
  }
}

/** A queue's frames joined, with what they were (so the next subscriber with the same can share it). */
export interface Joined {
  journal: Uint8Array[] | null;
  from: number;
  to: number;
  list: Uint8Array[] | null;
  bytes: Uint8Array;
}

export interface FanoutTarget {
  readonly conn: TcpConnection;
  /** Null when the socket closed since its frames were queued: nothing is written. */
  readonly fanoutQueue: FrameQueue | null;
}

const EMPTY = new Uint8Array(0);
const NOTHING: Joined = { journal: null, from: 0, to: 0, list: null, bytes: EMPTY };

/** The loop's side: the turn's journal, and who to write to when the turn ends. */
export class Fanout {
  private journal: Uint8Array[] = [];
  private targets: FanoutTarget[] = [];
  private scheduled = false;

  constructor(
    private readonly loop: EventLoop,
    private readonly output: Output,
    private readonly reportError: (err: unknown) => void,
  ) {}

  /** Appends a frame to this turn's journal; its index, for FrameQueue.add. */
  record(frame: Uint8Array): number {
    this.schedule();
    return this.journal.push(frame) - 1;
  }

  get currentJournal(): Uint8Array[] {
    return this.journal;
  }

  /** `t` queued its first frame this turn. */
  enlist(t: FanoutTarget): void {
    this.targets.push(t);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.loop.queueInLoop(this.flush);
  }

  /** One write per subscriber. A handler run meanwhile (a close) may publish: that starts the next turn's journal. */
  private readonly flush = (): void => {
    this.scheduled = false;
    const targets = this.targets;
    this.targets = [];
    this.journal = [];
    let last = NOTHING;
    for (const t of targets) {
      const q = t.fanoutQueue;
      if (q === null || q.isEmpty) continue;
      last = q.take(last);
      try {
        this.output.sendTo(t.conn, last.bytes);
      } catch (err) {
        this.reportError(err);
      }
    }
  };
}

function join(frames: Uint8Array[]): Uint8Array {
  return globalThis.Buffer.concat(frames);
}

function sameFrames(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
