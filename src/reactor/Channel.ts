/**
 * A Channel is one fd's registration in one EventLoop's epoll: the fd, the
 * events of interest and the object that handles what fires. Thread: its
 * loop's. Owns no fd: the Acceptor, TcpConnection or Connector owning it
 * closes the fd after removing the channel.
 */
import { C } from '../native/binding.js';
import type { EventLoop } from './EventLoop.js';

export interface ChannelOwner {
  /** Called with the epoll revents mask; the owner decides the order (pitfall 4). */
  handleEvent(revents: number): void;
}

// EPOLLIN only: EPOLLPRI (urgent data) is unused and EPOLLEXCLUSIVE rejects it.
export const EV_READ = C.EPOLLIN;
export const EV_WRITE = C.EPOLLOUT;
export const EV_RDHUP = C.EPOLLRDHUP;
export const EV_HUP = C.EPOLLHUP;
export const EV_ERR = C.EPOLLERR;
export const EV_ET = C.EPOLLET;
export const EV_EXCLUSIVE = C.EPOLLEXCLUSIVE;
export const EV_ONESHOT = C.EPOLLONESHOT;

export class Channel {
  /** The poller's never-reused registration id (0 = not registered). */
  token = 0;
  /** Interest: EV_READ / EV_WRITE bits. */
  events = 0;
  /** Extra flags fixed at registration: EV_ET, EV_EXCLUSIVE. */
  readonly flags: number;

  constructor(
    readonly loop: EventLoop,
    readonly fd: number,
    readonly owner: ChannelOwner,
    flags = 0,
  ) {
    this.flags = flags;
  }

  get isReading(): boolean {
    return (this.events & EV_READ) !== 0;
  }

  get isWriting(): boolean {
    return (this.events & EV_WRITE) !== 0;
  }

  get isNoneEvent(): boolean {
    return this.events === 0;
  }

  get edgeTriggered(): boolean {
    return (this.flags & EV_ET) !== 0;
  }

  enableReading(): void {
    this.events |= EV_READ;
    this.update();
  }

  disableReading(): void {
    this.events &= ~EV_READ;
    this.update();
  }

  enableWriting(): void {
    this.events |= EV_WRITE;
    this.update();
  }

  disableWriting(): void {
    this.events &= ~EV_WRITE;
    this.update();
  }

  disableAll(): void {
    this.events = 0;
    this.update();
  }

  /** Deregisters from epoll; the owner closes the fd afterwards. */
  remove(): void {
    this.events = 0;
    this.loop.poller.removeChannel(this);
  }

  private update(): void {
    this.loop.poller.updateChannel(this);
  }
}
