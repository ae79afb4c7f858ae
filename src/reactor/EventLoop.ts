/**
 * One reactor: one epoll instance, driven by the libuv loop of the thread
 * that created it. Thread: its creator's, for life. Owns the epoll fd (via
 * its Poller), its timers, its pending-functor queue, the shared read buffer
 * and the consumer end of its cross-thread LoopQueue.
 *
 * The thread never blocks in epoll_wait: libuv watches the epoll fd and, when
 * it turns readable, the native bridge drains ready events with a zero
 * timeout and calls `onReady`. Promises, Node timers and other Node I/O run
 * between batches as usual.
 */
import { threadId } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { native } from '../native/binding.js';
import { Channel, type ChannelOwner } from './Channel.js';
import { Poller } from './Poller.js';
import { TimerQueue, type Timer } from './TimerQueue.js';
import { Buffer } from './Buffer.js';
import { LoopStats } from './LoopStats.js';
import { LoopQueue } from './LoopQueue.js';
import { SendBatch } from './SendBatch.js';
import { ReadBatch } from './ReadBatch.js';

export interface EventLoopOptions {
  /** Position in a server's pool; also the slab of `statsBuffer` this loop writes. */
  index?: number;
  name?: string;
  /** Events taken per epoll_wait: sizes the events array and maxevents together. */
  maxEvents?: number;
  statsBuffer?: SharedArrayBuffer;
  /** Called for errors escaping a handler; the default logs them. The loop keeps running. */
  onError?: (err: unknown) => void;
}

export type QueueHandler = (type: number, a: number, b: number, c: number) => void;

let loopsInThisThread = 0;

export class EventLoop {
  readonly index: number;
  readonly name: string;
  readonly threadId = threadId;
  readonly poller: Poller;
  readonly timers: TimerQueue;
  readonly stats: LoopStats;
  /** Shared by every connection of this loop: recv lands here first (see TcpConnection). */
  readonly readBuffer = new Buffer(64 * 1024);
  private readonly watchHandle: object;
  private pending: Array<() => void> = [];
  private pendingScheduled = false;
  private dispatching = false;
  private cachedNow = 0;
  private quitted = false;
  private queue: LoopQueue | undefined;
  private queueChannel: Channel | undefined;
  private readonly onErrorCb: (err: unknown) => void;
  /** While a batch of events is handled: where connections gather their writes (see SendBatch). */
  gathering: SendBatch | null = null;
  private readonly sends = new SendBatch();
  /** Where connections that gather reads find this turn's first read (see ReadBatch). */
  readonly reads: ReadBatch;
  /** Made once: a closure per wakeup is garbage per wakeup. */
  private readonly dispatchError = (err: unknown): void => this.reportError(err);

  constructor(opts: EventLoopOptions = {}) {
    this.index = opts.index ?? 0;
    this.name = opts.name ?? `loop-${threadId}-${loopsInThisThread++}`;
    this.stats = new LoopStats(this.index, opts.statsBuffer);
    this.onErrorCb =
      opts.onError ??
      ((err) => {
        console.error(`edgeloop[${this.name}]: handler error:`, err);
      });
    this.poller = new Poller(opts.maxEvents ?? 256);
    this.reads = new ReadBatch(this.poller.maxEvents);
    this.timers = new TimerQueue(() => this.now(), (e) => this.reportError(e));
    const h = native.watch(this.poller.epfd, this.poller.events, this.poller.maxEvents, (n) => this.onReady(n));
    if (typeof h === 'number') {
      this.poller.close();
      throw new Error(`edgeloop: libuv could not watch the epoll fd (uv error ${h})`);
    }
    this.watchHandle = h;
  }

  get isRunning(): boolean {
    return !this.quitted;
  }

  isInLoopThread(): boolean {
    return threadId === this.threadId;
  }

  assertInLoopThread(): void {
    if (threadId !== this.threadId) {
      throw new Error(`edgeloop: ${this.name} was used from thread ${threadId}; it belongs to thread ${this.threadId}`);
    }
    if (this.quitted) throw new Error(`edgeloop: ${this.name} has quit`);
  }

  /** Milliseconds; cached for the duration of one batch of events. */
  now(): number {
    return this.dispatching ? this.cachedNow : performance.now();
  }

  reportError(err: unknown): void {
    try {
      this.onErrorCb(err);
    } catch {
      // an error reporter that throws must not take the loop down
    }
  }

  /**
   * Runs fn after the current batch of events (or soon, if called between
   * batches). Once the loop has quit, fn is dropped and false is returned: as
   * in muduo, a loop that has left its last iteration runs nothing more, and
   * dropping (rather than throwing) lets teardown paths queue without
   * checking. Off the loop's thread it throws: the queue is not shared.
   */
  queueInLoop(fn: () => void): boolean {
    if (threadId !== this.threadId) {
      throw new Error(`edgeloop: ${this.name}.queueInLoop() called from thread ${threadId}; it belongs to thread ${this.threadId}`);
    }
    if (this.quitted) return false;
    this.pending.push(fn);
    if (!this.dispatching && !this.pendingScheduled) {
      this.pendingScheduled = true;
      setImmediate(() => this.runPending());
    }
    return true;
  }

  /** Runs fn once after ms (a finite number >= 0; 0 = after the current batch's timers are due). */
  runAfter(ms: number, fn: () => void): Timer {
    // NaN would never fire and never be cancelled from the heap; Infinity the same; a
    // negative delay is almost always a deadline computed from the wrong clock.
    if (!(ms >= 0 && ms < Infinity)) throw new RangeError(`runAfter: delay must be a finite number of ms >= 0, got ${ms}`);
    return this.timers.add(ms, 0, fn);
  }

  /** Runs fn every ms (a finite number > 0). */
  runEvery(ms: number, fn: () => void): Timer {
    if (!(ms > 0 && ms < Infinity)) throw new RangeError(`runEvery: interval must be a finite number of ms > 0, got ${ms}`);
    return this.timers.add(ms, ms, fn);
  }

  /** Registers a channel for an fd with this loop's poller. */
  channel(fd: number, owner: ChannelOwner, flags = 0): Channel {
    return new Channel(this, fd, owner, flags);
  }

  /**
   * Makes this loop the consumer of a cross-thread queue: its eventfd joins
   * the epoll set and each message goes to `handler` on this thread.
   */
  attachQueue(queue: LoopQueue, handler: QueueHandler): void {
    this.assertInLoopThread();
    this.queue = queue;
    this.queueChannel = new Channel(this, queue.eventfd, {
      handleEvent: () => {
        queue.drain((t, a, b, c) => {
          try {
            handler(t, a, b, c);
          } catch (err) {
            this.reportError(err);
          }
        });
      },
    });
    this.queueChannel.enableReading();
  }

  /** Whether the loop keeps its thread alive (it does by default until quit). */
  ref(on: boolean): void {
    if (!this.quitted) native.watchRef(this.watchHandle, on);
  }

  /** Stops watching, cancels timers and closes the epoll fd. Owners close their own fds first. */
  quit(): void {
    if (this.quitted) return;
    this.assertInLoopThread();
    this.quitted = true;
    this.queueChannel?.remove();
    this.queueChannel = undefined;
    this.timers.close();
    native.unwatch(this.watchHandle);
    this.poller.close();
    this.pending = [];
  }

  private onReady(n: number): void {
    if (this.quitted) return;
    if (n < 0) {
      this.reportError(new Error(`edgeloop[${this.name}]: epoll_wait failed (errno ${-n})`));
      return;
    }
    this.cachedNow = performance.now();
    this.dispatching = true;
    this.gathering = this.sends;
    try {
      this.poller.dispatch(n, this.dispatchError, this.reads);
      this.runPending();
    } finally {
      // Writes made from here on (the flush's own callbacks included) go out directly.
      this.gathering = null;
      try {
        this.flushSends();
        // What the flush's answers queued (onWriteComplete) runs now, not at the next wakeup.
        if (this.pending.length > 0) this.runPending();
      } catch (err) {
        this.reportError(err);
      }
      this.dispatching = false;
    }
  }

  /** Sends what this turn gathered now (a connection closing, or a FIN that must follow it). */
  flushSends(): void {
    this.sends.flush();
  }

  private runPending(): void {
    this.pendingScheduled = false;
    if (this.pending.length === 0) return;
    // Swap first: functors queued while these run go to the next round (muduo's doPendingFunctors).
    const fns = this.pending;
    this.pending = [];
    for (const fn of fns) {
      // quit() from a functor ends the batch too: what is left would run on a closed loop.
      if (this.quitted) return;
      try {
        fn();
      } catch (err) {
        this.reportError(err);
      }
    }
    if (this.pending.length > 0 && !this.pendingScheduled) {
      this.pendingScheduled = true;
      setImmediate(() => this.runPending());
    }
  }

  /** The queue this loop consumes, if any. */
  get inbox(): LoopQueue | undefined {
    return this.queue;
  }
}
