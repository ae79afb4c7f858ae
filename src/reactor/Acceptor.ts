/**
 * Accepts connections on one listen socket for one EventLoop.
 * Thread: its loop's. Owns the listen fd when `ownsFd` (reuseport and single
 * loop), the back-off timer of an fd shortage, and the count of its episode.
 *
 * Every wakeup accepts until EAGAIN (pitfalls 1 and 6), capped per wakeup for
 * fairness; level-triggered registration means the kernel re-announces what
 * the cap left behind, so nothing pending is ever lost.
 *
 * Out of fds (EMFILE, ENFILE, or no kernel memory; pitfall 14), a level-triggered
 * listener would be told about the same pending connection forever and spin.
 * Accepting pauses instead (the listener leaves epoll) and is retried with
 * back-off; meanwhile connections wait in the kernel's accept queue, as in
 * nginx, and are served as soon as fds come back. Nothing is shed: a full
 * queue makes the kernel drop SYNs, which clients retransmit (measured in
 * bench/emfile.ts: shedding, the reserve-fd trick, only turns waiting
 * clients into failed ones). One report per episode, not one per failed accept.
 */
import { native } from '../native/binding.js';
import { Errno, SysError, errnoName } from '../native/errors.js';
import { EV_ET, EV_EXCLUSIVE, type Channel, type ChannelOwner } from './Channel.js';
import type { EventLoop } from './EventLoop.js';
import { S } from './LoopStats.js';
import type { Timer } from './TimerQueue.js';

const EAGAIN = -Errno.EAGAIN;
const EMFILE = -Errno.EMFILE;
const ENFILE = -Errno.ENFILE;
const ENOBUFS = -Errno.ENOBUFS;
const ENOMEM = -Errno.ENOMEM;
// The connection died in the queue, or a signal interrupted: try the next one.
const RETRY = new Set([-Errno.EINTR, -Errno.ECONNABORTED, -Errno.EPROTO, -Errno.EPERM]);

/** First and longest pause of accepting while fds are short (ms); it doubles while a retry gets none. */
const PAUSE_MIN_MS = 5;
const PAUSE_MAX_MS = 200;
/** An episode is over once the accept queue was drained and no fd shortage came back for this long. */
const EPISODE_QUIET_MS = 1000;
/** An episode that lasts is reported this often. */
const EPISODE_REPORT_MS = 30_000;

/** One episode of running out of fds, as reported: when it is over, and every 30 s while it lasts. */
export interface FdShortage {
  /** The errno that started it: 'EMFILE', 'ENFILE', 'ENOBUFS' or 'ENOMEM'. */
  errno: string;
  /** Milliseconds from its first failed accept to now. */
  ms: number;
  /** How many times accepting paused. */
  pauses: number;
  /** Connections accepted during the episode (as fds came back). */
  accepted: number;
  /** False for a report of an episode still going on. */
  over: boolean;
}

/** The default reporter: one warning line, no stack trace (it describes the process's limit, not a bug). */
export function logFdShortage(where: string, r: FdShortage): void {
  console.warn(`edgeloop[${where}]: ${describeFdShortage(r)}`);
}

/** One log line for a report: what happened, its counts, and what to do. */
export function describeFdShortage(r: FdShortage): string {
  const lim = native.getrlimitNofile();
  const limit = r.errno === 'EMFILE' && Array.isArray(lim) ? `, RLIMIT_NOFILE ${lim[0]}` : '';
  return (
    `accept: out of file descriptors (${r.errno}${limit}) for ${(r.ms / 1000).toFixed(1)} s${r.over ? '' : ' so far'}: ` +
    `accepting paused ${r.pauses} times, ${r.accepted} connections accepted as fds came back, none shed ` +
    '(the rest waited in the listen queue); raise the limit (ulimit -n) or lower the load'
  );
}

export interface AcceptorOptions {
  /** Register with EPOLLEXCLUSIVE (one listen socket shared by several loops). */
  exclusive?: boolean;
  /** Register edge-triggered; the drain loop makes this safe, LT is the default. */
  edgeTriggered?: boolean;
  /** Accepts per wakeup before yielding to other channels. */
  maxPerWakeup?: number;
  /** Close the listen fd when this acceptor closes. */
  ownsFd?: boolean;
  onNewConnection: (fd: number) => void;
  /** Told about an episode of fd shortage: when it is over, and every 30 s while it lasts. */
  onFdShortage?: (report: FdShortage) => void;
}

interface Episode {
  errno: string;
  start: number;
  pauses: number;
  accepted: number;
  reportedAt: number;
}

export class Acceptor implements ChannelOwner {
  readonly channel: Channel;
  private readonly maxPerWakeup: number;
  private backoffMs = 0;
  private pauseTimer: Timer | undefined;
  private episode: Episode | null = null;
  private quietTimer: Timer | undefined;
  private closed = false;

  constructor(
    readonly loop: EventLoop,
    readonly listenFd: number,
    private readonly opts: AcceptorOptions,
  ) {
    const flags = (opts.exclusive ? EV_EXCLUSIVE : 0) | (opts.edgeTriggered ? EV_ET : 0);
    this.channel = loop.channel(listenFd, this, flags);
    this.maxPerWakeup = opts.maxPerWakeup ?? 256;
  }

  listen(): void {
    this.loop.assertInLoopThread();
    this.channel.enableReading();
  }

  get isPaused(): boolean {
    return this.pauseTimer !== undefined;
  }

  handleEvent(): void {
    const stats = this.loop.stats.c;
    stats[S.acceptWakeups]!++;
    const accepted = this.acceptPending(this.maxPerWakeup);
    if (accepted === 0) stats[S.acceptEmptyWakeups]!++;
    else if (accepted >= this.maxPerWakeup && this.channel.edgeTriggered) {
      // Edge-triggered will not announce the rest again: come back ourselves.
      this.loop.queueInLoop(() => {
        if (!this.closed && !this.isPaused) this.handleEvent();
      });
    }
  }

  /** Accepts up to max pending connections; returns how many. */
  acceptPending(max: number): number {
    let accepted = 0;
    while (accepted < max && !this.closed) {
      const fd = native.accept(this.listenFd);
      if (fd >= 0) {
        accepted++;
        this.loop.stats.c[S.accepted]!++;
        this.opts.onNewConnection(fd);
        continue;
      }
      if (fd === EAGAIN) {
        if (this.episode !== null) this.drained();
        break;
      }
      if (RETRY.has(fd)) continue;
      if (fd === EMFILE || fd === ENFILE || fd === ENOBUFS || fd === ENOMEM) {
        this.pause(fd, accepted);
        break;
      }
      this.loop.reportError(new SysError(fd, 'accept4', `on listen fd ${this.listenFd}`));
      break;
    }
    if (this.episode !== null) this.episode.accepted += accepted;
    return accepted;
  }

  /**
   * Out of fds: stop listening (no spin) and retry after a back-off that grows only while
   * retries get nothing; the connections wait in the accept queue meanwhile.
   */
  private pause(errno: number, acceptedBefore: number): void {
    const now = this.loop.now();
    const ep = (this.episode ??= { errno: errnoName(-errno), start: now, pauses: 0, accepted: 0, reportedAt: now });
    ep.pauses++;
    this.quietTimer?.cancel();
    this.quietTimer = undefined;
    if (now - ep.reportedAt >= EPISODE_REPORT_MS) {
      ep.reportedAt = now;
      this.report(ep, false);
    }
    this.backoffMs = acceptedBefore > 0 || this.backoffMs === 0 ? PAUSE_MIN_MS : Math.min(PAUSE_MAX_MS, this.backoffMs * 2);
    this.channel.disableReading();
    this.pauseTimer = this.loop.runAfter(this.backoffMs, () => {
      this.pauseTimer = undefined;
      if (this.closed) return;
      this.channel.enableReading();
      this.handleEvent(); // look now: an empty queue announces nothing, and the episode must learn it
    });
  }

  /** The queue was drained during an episode: it is over unless fds run out again soon. */
  private drained(): void {
    this.backoffMs = 0;
    if (this.quietTimer !== undefined) return;
    this.quietTimer = this.loop.runAfter(EPISODE_QUIET_MS, () => {
      this.quietTimer = undefined;
      this.endEpisode();
    });
  }

  private endEpisode(): void {
    const ep = this.episode;
    this.episode = null;
    if (ep !== null) this.report(ep, true);
  }

  private report(ep: Episode, over: boolean): void {
    const r: FdShortage = { errno: ep.errno, ms: this.loop.now() - ep.start, pauses: ep.pauses, accepted: ep.accepted, over };
    try {
      this.opts.onFdShortage?.(r);
    } catch (err) {
      this.loop.reportError(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pauseTimer?.cancel();
    this.pauseTimer = undefined;
    this.quietTimer?.cancel();
    this.quietTimer = undefined;
    this.endEpisode();
    this.channel.remove();
    if (this.opts.ownsFd) native.close(this.listenFd);
  }
}
