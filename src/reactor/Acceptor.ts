/**
 * Accepts connections on one listen socket for one EventLoop.
 * Thread: its loop's. Owns the listen fd when `ownsFd` (reuseport and single
 * loop), and a reserve fd kept for EMFILE recovery.
 *
 * Every wakeup accepts until EAGAIN (pitfalls 1 and 6), capped per wakeup for
 * fairness; level-triggered registration means the kernel re-announces what
 * the cap left behind, so nothing pending is ever lost.
 */
import { native } from '../native/binding.js';
import { Errno, SysError } from '../native/errors.js';
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
  /** Told about every connection shed because the process ran out of fds. */
  onShed?: (count: number, error: SysError) => void;
}

export class Acceptor implements ChannelOwner {
  readonly channel: Channel;
  private reserveFd: number;
  private readonly maxPerWakeup: number;
  private backoffMs = 0;
  private pauseTimer: Timer | undefined;
  private closed = false;

  constructor(
    readonly loop: EventLoop,
    readonly listenFd: number,
    private readonly opts: AcceptorOptions,
  ) {
    const flags = (opts.exclusive ? EV_EXCLUSIVE : 0) | (opts.edgeTriggered ? EV_ET : 0);
    this.channel = loop.channel(listenFd, this, flags);
    this.maxPerWakeup = opts.maxPerWakeup ?? 256;
    this.reserveFd = native.openReserve();
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
        this.backoffMs = 0;
        this.loop.stats.c[S.accepted]!++;
        this.opts.onNewConnection(fd);
        continue;
      }
      if (fd === EAGAIN) break;
      if (RETRY.has(fd)) continue;
      if (fd === EMFILE || fd === ENFILE || fd === ENOBUFS || fd === ENOMEM) {
        this.shed(fd);
        break;
      }
      this.loop.reportError(new SysError(fd, 'accept4', `on listen fd ${this.listenFd}`));
      break;
    }
    return accepted;
  }

  /**
   * Out of fds (pitfall 14): a level-triggered listener would report the same
   * pending connection forever and spin. Free the reserve fd, accept and close
   * what is pending (the peer sees a clean close, not a hang), reopen the
   * reserve, and stop listening for a back-off period.
   */
  private shed(errno: number): void {
    const error = new SysError(errno, 'accept4', 'connections are being shed');
    let shed = 0;
    if (this.reserveFd >= 0) {
      native.close(this.reserveFd);
      this.reserveFd = -1;
    }
    for (let i = 0; i < 1024; i++) {
      const fd = native.accept(this.listenFd);
      if (fd < 0) break;
      native.close(fd);
      shed++;
    }
    this.reserveFd = native.openReserve();
    this.loop.stats.c[S.shed]! += shed;
    this.opts.onShed?.(shed, error);
    this.backoffMs = Math.min(1000, this.backoffMs > 0 ? this.backoffMs * 2 : 10);
    this.channel.disableReading();
    this.pauseTimer = this.loop.runAfter(this.backoffMs, () => {
      this.pauseTimer = undefined;
      if (this.reserveFd < 0) this.reserveFd = native.openReserve();
      if (!this.closed) this.channel.enableReading();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pauseTimer?.cancel();
    this.pauseTimer = undefined;
    this.channel.remove();
    if (this.reserveFd >= 0) native.close(this.reserveFd);
    this.reserveFd = -1;
    if (this.opts.ownsFd) native.close(this.listenFd);
  }
}
