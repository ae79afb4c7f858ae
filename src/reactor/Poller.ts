/**
 * The epoll instance of one EventLoop and the map from registration token to
 * Channel. Thread: its loop's. Owns the epoll fd and the events array.
 *
 * Tokens, not fds and not object pointers, are what epoll hands back: a token
 * is never reused while its channel lives and is forgotten the moment the
 * channel is removed, so an event still queued for a channel that closed
 * earlier in the same batch finds nothing and is dropped (pitfalls 3 and 10).
 */
import { native, C } from '../native/binding.js';
import { check, SysError } from '../native/errors.js';
import type { Channel, ChannelOwner } from './Channel.js';
import type { BatchedReader, ReadBatch } from './ReadBatch.js';

export class Poller {
  readonly epfd: number;
  /** One value sizes both the array and maxevents (pitfall 2). */
  readonly maxEvents: number;
  readonly events: Int32Array;
  private readonly channels = new Map<number, Channel>();
  private nextToken = 1;

  constructor(maxEvents = 256) {
    this.maxEvents = maxEvents;
    this.events = new Int32Array(maxEvents * 2);
    this.epfd = check(native.epollCreate(), 'epoll_create1');
  }

  get channelCount(): number {
    return this.channels.size;
  }

  hasChannel(ch: Channel): boolean {
    return ch.token !== 0 && this.channels.get(ch.token) === ch;
  }

  updateChannel(ch: Channel): void {
    ch.loop.assertInLoopThread();
    if (ch.token === 0) {
      if (ch.events === 0) return;
      const token = this.allocToken();
      const r = native.epollCtl(this.epfd, C.EPOLL_CTL_ADD, ch.fd, ch.events | ch.flags, token);
      if (r < 0) throw new SysError(r, 'epoll_ctl(ADD)', `fd ${ch.fd}`);
      ch.token = token;
      this.channels.set(token, ch);
    } else if (ch.events === 0) {
      this.removeChannel(ch);
    } else {
      // EPOLLEXCLUSIVE registrations cannot be modified; re-add instead.
      if ((ch.flags & C.EPOLLEXCLUSIVE) !== 0) {
        this.removeChannel(ch);
        this.updateChannel(ch);
        return;
      }
      const r = native.epollCtl(this.epfd, C.EPOLL_CTL_MOD, ch.fd, ch.events | ch.flags, ch.token);
      if (r < 0) throw new SysError(r, 'epoll_ctl(MOD)', `fd ${ch.fd}`);
    }
  }

  removeChannel(ch: Channel): void {
    if (ch.token === 0) return;
    this.channels.delete(ch.token);
    ch.token = 0;
    // ENOENT/EBADF: the fd is already gone from the set; nothing to undo.
    native.epollCtl(this.epfd, C.EPOLL_CTL_DEL, ch.fd, 0, 0);
  }

  /**
   * Hands n ready events (already copied into `events`) to their channels. First, the
   * readable connections that gather reads are read together (ReadBatch).
   */
  dispatch(n: number, onError: (err: unknown) => void, reads: ReadBatch | null = null): void {
    const ev = this.events;
    if (reads !== null) {
      let any = false;
      for (let i = 0; i < n; i++) {
        if ((ev[2 * i]! & C.EPOLLIN) === 0) continue;
        const ch = this.channels.get(ev[2 * i + 1]! >>> 0);
        if (ch === undefined || !ch.isReading) continue;
        const o = ch.owner as ChannelOwner & Partial<BatchedReader>;
        if (o.gatherReads === true) {
          reads.add(o as BatchedReader);
          any = true;
        }
      }
      if (any) reads.run();
    }
    for (let i = 0; i < n; i++) {
      const ch = this.channels.get(ev[2 * i + 1]! >>> 0);
      if (ch === undefined) continue; // closed earlier in this batch: drop, never dereference
      try {
        ch.owner.handleEvent(ev[2 * i]!);
      } catch (err) {
        onError(err);
      }
    }
  }

  close(): void {
    this.channels.clear();
    native.close(this.epfd);
  }

  private allocToken(): number {
    for (;;) {
      const t = this.nextToken;
      this.nextToken = this.nextToken >= 0xffffffff ? 1 : this.nextToken + 1;
      if (!this.channels.has(t)) return t;
    }
  }
}
