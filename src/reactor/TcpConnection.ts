/**
 * One TCP connection. Thread: the loop it was handed to, for its whole life.
 * Owns its socket fd, its Channel, its input and output Buffers and its
 * timers. Every way a connection ends goes through `handleClose`, once.
 *
 * States:
 *   connecting -> connected -> (peerHalfClosed | localHalfClosed | disconnecting) -> closed
 * peerHalfClosed: the peer sent FIN; we may still send (pitfall 4: a half-closed
 * peer still gets its reply). localHalfClosed: we sent FIN, we still read.
 * disconnecting: a shutdown or close waits for the output to drain.
 *
 * With TLS (startTls) the same machine runs on ciphertext: recv'd bytes go
 * through the TlsSession before onMessage, send() encrypts, shutdown() sends
 * close_notify before the FIN, and onConnection waits for the handshake.
 */
import { threadId } from 'node:worker_threads';
import { native, C, type SockAddr } from '../native/binding.js';
import { Errno, SysError } from '../native/errors.js';
import { Buffer } from './Buffer.js';
import { NOTHING_READ, READ_SLOT } from './ReadBatch.js';
import { EV_ERR, EV_HUP, EV_RDHUP, EV_READ, EV_WRITE, type Channel, type ChannelOwner } from './Channel.js';
import type { EventLoop } from './EventLoop.js';
import { S, type CloseReason } from './LoopStats.js';
import type { Timer } from './TimerQueue.js';
import { Watchdog } from './Watchdog.js';
import { TlsSession, type TlsInfo, type TlsSessionOptions } from './tls/TlsSession.js';
import type { TlsError } from './tls/TlsError.js';

export type ConnState = 'connecting' | 'connected' | 'peerHalfClosed' | 'localHalfClosed' | 'disconnecting' | 'closed';
export type { CloseReason };

export interface ConnectionHandlers {
  /** The connection is up. */
  onConnection?(conn: TcpConnection): void;
  /** Bytes arrived. Consume what you use (buf.retrieve); the rest is kept for the next call. */
  onMessage?(conn: TcpConnection, buf: Buffer): void;
  /** The peer sent FIN. You may still send; call shutdown() or close() when done. Default: shutdown() after the output drains. */
  onPeerHalfClose?(conn: TcpConnection): void;
  /** The output buffer was fully handed to the kernel. */
  onWriteComplete?(conn: TcpConnection): void;
  /** Queued output reached conn.highWaterMark: stop producing until onDrain. */
  onHighWaterMark?(conn: TcpConnection, queuedBytes: number): void;
  /** Queued output fell to conn.lowWaterMark after a high-water mark. */
  onDrain?(conn: TcpConnection): void;
  /** Exactly once per connection, after its fd is closed. */
  onClose?(conn: TcpConnection, reason: CloseReason, error?: SysError | TlsError): void;
}

const CLOSED: ConnState = 'closed';
const EAGAIN = -Errno.EAGAIN;
const EINTR = -Errno.EINTR;
const ECONNRESET = -Errno.ECONNRESET;
const EPIPE = -Errno.EPIPE;

// Ids are unique in the process and never reused: the thread id (never reused
// by Node) in the high bits, a per-thread counter in the low 32.
const ID_BASE = threadId * 2 ** 32;
let idSeq = 0;
export function nextConnectionId(): number {
  idSeq = (idSeq + 1) % 2 ** 32;
  return ID_BASE + idSeq;
}

export class TcpConnection implements ChannelOwner {
  readonly id = nextConnectionId();
  readonly channel: Channel;
  state: ConnState;
  /** A slot for the protocol layer above (HTTP parser state, ...). */
  context: unknown = undefined;
  highWaterMark = 4 * 1024 * 1024;
  lowWaterMark = 1024 * 1024;
  /** How long a FIN we sent may wait for the peer's before the socket is closed anyway. */
  lingerMs = 5000;
  /** The error that ended the connection, when one did. */
  error: SysError | TlsError | undefined;
  closeReason: CloseReason | undefined;

  private handlers: ConnectionHandlers = {};
  private input: Buffer | null = null;
  private output: Buffer | null = null;
  private aboveHighWater = false;
  private peerEof = false;
  private localEof = false;
  private wantShutdown = false;
  private discardInput = false;
  private readPaused = false;
  private readDeferred = false;
  private initiator: CloseReason = 'peer';
  private lastRead: number;
  private lastWrite: number;
  private idleDog: Watchdog | undefined;
  private readDog: Watchdog | undefined;
  private writeDog: Watchdog | undefined;
  private lingerTimer: Timer | undefined;
  private sockPeer: SockAddr | undefined;
  private sockLocal: SockAddr | undefined;
  private proxied: { remote: SockAddr; local: SockAddr } | undefined;
  private tlsSession: TlsSession | null = null;
  /**
   * Writes made inside a loop turn wait for its end and leave with the turn's others in one
   * crossing (SendBatch). Off by default: the HTTP layer turns it on, because with it the
   * kernel's verdict on a write (taken, or queued for backpressure) comes at the turn's end,
   * not from send() itself; bufferedAmount counts the waiting bytes meanwhile.
   */
  gatherWrites = false;
  /** Bytes of this connection waiting in the loop's SendBatch. */
  private batched = 0;
  /**
   * Reads made ahead with the turn's others (ReadBatch): as gatherWrites, turned on by the HTTP
   * layer. `prefetched` is that read's result (NOTHING_READ: none) and `prefetchAt` its slot.
   */
  gatherReads = false;
  prefetched = NOTHING_READ;
  prefetchAt = 0;

  constructor(
    readonly loop: EventLoop,
    readonly fd: number,
    state: ConnState = 'connected',
    channelFlags = 0,
  ) {
    this.state = state;
    this.channel = loop.channel(fd, this, channelFlags);
    this.lastRead = this.lastWrite = loop.now();
  }

  /** Sets the callbacks; a connection established without them starts reading now. */
  setHandlers(h: ConnectionHandlers): void {
    this.handlers = h;
    if (this.readDeferred) {
      this.readDeferred = false;
      if (!this.isClosed && !this.readPaused && !this.peerEof) this.channel.enableReading();
    }
    // Plaintext that arrived with the TLS handshake, before anyone was there to take it.
    if (this.input !== null && this.input.readableBytes > 0 && h.onMessage) this.loop.queueInLoop(() => this.redeliver());
  }

  /**
   * Puts TLS under this connection; call before establish(). A server
   * connection reports onConnection when its handshake completes.
   */
  startTls(opts: TlsSessionOptions): void {
    this.tlsSession = new TlsSession(this, opts);
  }

  /** The TLS session, when the connection has one. */
  get tls(): TlsSession | null {
    return this.tlsSession;
  }

  /** Protocol, cipher, ALPN, SNI, resumption and peer certificate once the handshake completed; null otherwise. */
  tlsInfo(): TlsInfo | null {
    return this.tlsSession?.info() ?? null;
  }

  /**
   * Reports the connection up and starts reading. Called once by the server or
   * connector. With startReading false, reading waits for setHandlers(), so no
   * byte arrives before someone is there to take it.
   */
  establish(startReading = true): void {
    this.loop.assertInLoopThread();
    this.state = 'connected';
    this.loop.stats.c[S.active]!++;
    if (startReading) this.channel.enableReading();
    else this.readDeferred = true;
    const tls = this.tlsSession;
    if (tls === null) this.call(() => this.handlers.onConnection?.(this));
    else if (!tls.handshakeDone && !this.isClosed) this.call(() => tls.start());
  }

  get isClosed(): boolean {
    return this.state === CLOSED;
  }

  /** Bytes queued for the kernel. */
  get bufferedAmount(): number {
    return (this.output ? this.output.readableBytes : 0) + this.batched;
  }

  /** Bytes received and left unconsumed by onMessage (kept for its next call). */
  get bufferedInput(): number {
    return this.input ? this.input.readableBytes : 0;
  }

  /**
   * This end's address: the one the client connected to (behind PROXY protocol, the
   * balancer's listener it reached). Read from the socket once and kept.
   */
  localAddress(): SockAddr | undefined {
    if (this.proxied !== undefined) return this.proxied.local;
    if (this.sockLocal === undefined && !this.isClosed) {
      const a = native.getsockname(this.fd);
      if (typeof a !== 'number') this.sockLocal = a;
    }
    return this.sockLocal;
  }

  /** The client's address: the socket's peer, or the one a PROXY protocol header gave. */
  remoteAddress(): SockAddr | undefined {
    return this.proxied !== undefined ? this.proxied.remote : this.peerAddress();
  }

  /** The socket's own peer, whatever a PROXY header said (the balancer, behind one). Read once and kept. */
  peerAddress(): SockAddr | undefined {
    if (this.sockPeer === undefined && !this.isClosed) {
      const a = native.getpeername(this.fd);
      if (typeof a !== 'number') this.sockPeer = a;
    }
    return this.sockPeer;
  }

  /** The addresses a PROXY protocol header gave (the client and the listener it reached, as the balancer saw them). */
  setProxiedAddresses(remote: SockAddr, local: SockAddr): void {
    this.proxied = { remote, local };
  }

  /** True when remoteAddress() comes from a PROXY protocol header. */
  get isProxied(): boolean {
    return this.proxied !== undefined;
  }

  // ---- events -------------------------------------------------------------

  handleEvent(revents: number): void {
    // Read first: EPOLLIN often arrives together with RDHUP/HUP/ERR, and the
    // bytes before the hang-up are the request we still owe a reply to.
    if (revents & (EV_READ | EV_RDHUP | EV_HUP | EV_ERR)) {
      if (!this.readPaused && !this.peerEof) this.handleRead();
      else if (this.prefetched !== NOTHING_READ) this.keepPrefetched();
    }
    if (this.isClosed) return;
    if (revents & EV_WRITE) this.handleWrite();
    if (this.isClosed) return;
    if (revents & EV_ERR) {
      const err = native.getsockopt(this.fd, C.SOL_SOCKET, C.SO_ERROR);
      this.failWith(err > 0 ? -err : -Errno.EIO, 'socket');
    } else if (revents & EV_HUP) {
      // HUP without ERR: both directions are shut. A reset would have come with
      // SO_ERROR set (EV_ERR above), so this is a graceful end.
      if (this.peerEof) {
        // We read the peer's FIN: nothing more can arrive.
        this.handleClose(this.initiator);
      } else if (this.readPaused && !this.localEof) {
        // Shut both ways though we never sent our FIN and saw no FIN nor error:
        // only a torn-down connection gets here.
        this.handleClose('reset');
      }
      // Otherwise (our FIN sent, reading paused, the peer's FIN not read yet):
      // its last bytes may still wait in the kernel. Pausing took the channel
      // out of epoll, so this does not spin; resumeReading() reads them up to
      // the FIN and closes then, and the linger timer bounds the wait.
    }
  }

  private handleRead(): void {
    const rb = this.loop.readBuffer;
    const et = this.channel.edgeTriggered;
    let more: boolean;
    do {
      let n: number;
      let buf: Buffer;
      if (this.prefetched !== NOTHING_READ) {
        // This turn's first read was made with the others (ReadBatch); a full slot reads on.
        n = this.prefetched;
        this.prefetched = NOTHING_READ;
        buf = this.loop.reads.slot(this.prefetchAt, n > 0 ? n : 0);
        more = n === READ_SLOT;
      } else {
        rb.retrieveAll();
        n = native.recv(this.fd, rb.data, rb.w, rb.writableBytes);
        if (n > 0) rb.hasWritten(n);
        buf = rb;
        more = false;
      }
      if (n > 0) {
        this.loop.stats.c[S.bytesIn]! += n;
        this.lastRead = this.loop.now();
        if (this.tlsSession !== null) {
          const tls = this.tlsSession;
          const from = buf;
          this.call(() => tls.receive(from.data, from.r, n));
          buf.retrieveAll();
          if (this.isClosed || this.readPaused || !this.channel.isReading) return;
        } else {
          this.deliver(buf);
          if (this.isClosed || this.readPaused) return;
        }
      } else if (n === 0) {
        this.handlePeerEof();
        return;
      } else if (n === EAGAIN) {
        return;
      } else if (n !== EINTR) {
        this.failWith(n, 'recv');
        return;
      }
      // Level-triggered: one read per wakeup is fair to other connections and
      // the kernel will report the rest. Edge-triggered must drain to EAGAIN.
    } while (et || more);
  }

  /**
   * ReadBatch read ahead for this turn, but an earlier handler of the turn paused reading: the
   * bytes wait in the input buffer for resumeReading(), as plaintext of a paused TLS
   * connection does; an EOF or error is acted on now (the kernel has given it up).
   */
  private keepPrefetched(): void {
    const n = this.prefetched;
    this.prefetched = NOTHING_READ;
    if (n > 0) {
      this.loop.stats.c[S.bytesIn]! += n;
      this.lastRead = this.loop.now();
      const slot = this.loop.reads.slot(this.prefetchAt, n);
      if (this.tlsSession !== null) {
        const tls = this.tlsSession;
        this.call(() => tls.receive(slot.data, slot.r, n)); // plaintext for a paused reader is kept by deliverPlain
      } else if (!this.discardInput) {
        this.input ??= new Buffer(Math.max(1024, n));
        this.input.append(slot.data, slot.r, n);
      }
    } else if (n === 0) {
      this.handlePeerEof();
    } else if (n !== EAGAIN && n !== EINTR) {
      this.failWith(n, 'recv');
    }
  }

  /**
   * TlsSession: plaintext for the handlers (a loop-shared buffer, like the
   * read buffer). While reading is paused it is kept for resumeReading().
   */
  deliverPlain(plain: Buffer): void {
    // Paused, or no handlers yet (a client connection handed out after its handshake): keep it.
    if ((this.readPaused || !this.handlers.onMessage) && !this.discardInput) {
      this.input ??= new Buffer(Math.max(1024, plain.readableBytes));
      this.input.append(plain.data, plain.r, plain.readableBytes);
      plain.retrieveAll();
      return;
    }
    this.deliver(plain);
  }

  /** TlsSession: the handshake completed. */
  tlsEstablished(): void {
    this.call(() => this.handlers.onConnection?.(this));
  }

  /** TlsSession: close_notify arrived; the same as the peer's FIN. */
  tlsPeerClosed(): void {
    if (!this.peerEof) this.handlePeerEof();
  }

  /**
   * TlsSession: the handshake or a record failed (its alert is already
   * queued), or timed out. 'graceful' flushes what was queued first.
   */
  tlsFailed(err: TlsError, reason: CloseReason, how: 'now' | 'graceful' = 'now'): void {
    if (this.isClosed) return;
    this.error = err;
    if (how === 'graceful') this.close();
    else this.handleClose(reason);
  }

  /** HandshakeGate: stop (or restart) reading without touching the user's pause. */
  holdReading(hold: boolean): void {
    if (this.isClosed) return;
    if (hold) {
      if (this.channel.isReading) this.channel.disableReading();
    } else if (!this.readPaused && !this.peerEof && !this.channel.isReading) {
      this.channel.enableReading();
    }
  }

  private deliver(rb: Buffer): void {
    if (this.discardInput || !this.handlers.onMessage) {
      rb.retrieveAll();
      return;
    }
    let buf = rb;
    if (this.input !== null && this.input.readableBytes > 0) {
      this.input.append(rb.data, rb.r, rb.readableBytes);
      rb.retrieveAll();
      buf = this.input;
    }
    this.callMessage(buf);
    if (this.isClosed) return;
    if (buf === rb) {
      // The shared read buffer is reused by the next connection: keep what was not consumed.
      if (rb.readableBytes > 0) {
        this.input ??= new Buffer(Math.max(1024, rb.readableBytes));
        this.input.append(rb.data, rb.r, rb.readableBytes);
        rb.retrieveAll();
      }
    } else if (this.input !== null && this.input.readableBytes === 0) {
      this.input = null; // idle connections hold no input memory
    }
  }

  private handlePeerEof(): void {
    if (this.tlsSession !== null && !this.tlsSession.handshakeDone) {
      // Gone mid-handshake: nothing was asked, nothing to answer; the handlers never saw this connection.
      this.handleClose('peer');
      return;
    }
    this.peerEof = true;
    if (this.channel.isReading) this.channel.disableReading();
    if (this.localEof) {
      this.handleClose(this.initiator);
      return;
    }
    this.initiator = 'peer';
    if (this.state === 'connected') this.state = 'peerHalfClosed';
    if (this.discardInput) {
      this.shutdown();
    } else if (this.handlers.onPeerHalfClose) {
      this.call(() => this.handlers.onPeerHalfClose!(this));
    } else {
      this.shutdown();
    }
  }

  private handleWrite(): void {
    const out = this.output;
    if (!this.channel.isWriting || out === null) return;
    const et = this.channel.edgeTriggered;
    do {
      const n = native.send(this.fd, out.data, out.r, out.readableBytes);
      if (n >= 0) {
        out.retrieve(n);
        this.wrote(n);
        if (out.readableBytes === 0) {
          this.outputDrained();
          return;
        }
        if (this.aboveHighWater && out.readableBytes <= this.lowWaterMark) {
          this.aboveHighWater = false;
          this.call(() => this.handlers.onDrain?.(this));
        }
      } else if (n === EAGAIN) {
        return;
      } else if (n !== EINTR) {
        this.failWith(n, 'send');
        return;
      }
    } while (et && !this.isClosed);
  }

  private outputDrained(): void {
    this.channel.disableWriting();
    this.output = null;
    if (this.aboveHighWater) {
      this.aboveHighWater = false;
      this.call(() => this.handlers.onDrain?.(this));
    }
    this.writeCompleted();
    if (this.wantShutdown && !this.isClosed) this.shutdownWrite();
  }

  // ---- commands -----------------------------------------------------------

  /**
   * Sends bytes: written now when nothing is queued, otherwise (or for what
   * the kernel did not take) copied into the output buffer. Returns false when
   * the queue is at or above the high-water mark, or the connection cannot send.
   */
  send(data: Uint8Array | string): boolean {
    const bytes = typeof data === 'string' ? globalThis.Buffer.from(data) : data;
    return this.sendRange(bytes, 0, bytes.length);
  }

  /** send() of bytes[offset, offset + len): no view to make per write (the HTTP output's flush). */
  sendRange(bytes: Uint8Array, offset: number, len: number): boolean {
    this.loop.assertInLoopThread();
    if (this.isClosed || this.localEof || this.wantShutdown) return false;
    if (len === 0) return true;
    if (this.tlsSession !== null) return this.tlsSession.write(bytes, offset, len);
    return this.sendBytes(bytes, offset, len);
  }

  /** TlsSession: records (or a reply before the handshake) for the wire, as they are. */
  sendCipher(bytes: Uint8Array, offset: number, len: number): boolean {
    if (this.isClosed || this.localEof) return false;
    return this.sendBytes(bytes, offset, len);
  }

  private sendBytes(bytes: Uint8Array, offset: number, len: number): boolean {
    let written = 0;
    const batch = this.gatherWrites ? this.loop.gathering : null;
    if (batch !== null && this.output === null) {
      // Inside a loop turn: gathered, sent with the turn's other writes (SendBatch). What
      // could reach the high-water mark or does not fit goes now, after what was gathered.
      if (batch.fits(len) && this.batched + len < this.highWaterMark) {
        batch.add(this, this.fd, bytes, offset, len);
        this.batched += len;
        return true;
      }
      batch.flush();
      if (this.isClosed) return false;
    }
    if (this.output === null) {
      const n = native.send(this.fd, bytes, offset, len);
      if (n >= 0) {
        written = n;
        this.wrote(n);
        if (n === len) {
          this.writeCompleted();
          return true;
        }
      } else if (n !== EAGAIN && n !== EINTR) {
        // EPIPE / ECONNRESET: an ordinary close reason, never a signal (pitfall 9).
        this.failWith(n, 'send');
        return false;
      }
    }
    const queued = this.queueUnsent(bytes, offset + written, len - written);
    this.checkHighWater(queued);
    return queued < this.highWaterMark;
  }

  private wrote(n: number): void {
    this.loop.stats.c[S.bytesOut]! += n;
    this.lastWrite = this.loop.now();
  }

  /** Everything handed over so far is with the kernel. */
  private writeCompleted(): void {
    if (this.handlers.onWriteComplete) this.loop.queueInLoop(() => {
      if (!this.isClosed) this.handlers.onWriteComplete?.(this);
    });
  }

  /** Queues bytes the kernel did not take behind what already waits; returns the queued total. */
  private queueUnsent(bytes: Uint8Array, offset: number, len: number): number {
    if (this.output === null) {
      this.output = new Buffer(Math.max(1024, len));
      this.lastWrite = this.loop.now(); // the write timeout counts from when output starts waiting
    }
    this.output.append(bytes, offset, len);
    if (!this.channel.isWriting) this.channel.enableWriting();
    return this.output.readableBytes;
  }

  private checkHighWater(queued: number): void {
    if (queued >= this.highWaterMark && !this.aboveHighWater) {
      this.aboveHighWater = true;
      this.call(() => this.handlers.onHighWaterMark?.(this, queued));
    }
  }

  /** Sends this connection's gathered writes now instead of at the end of the turn. */
  sendGathered(): void {
    if (this.batched > 0) this.loop.flushSends();
  }

  /** SendBatch, pass 1: what the kernel took of a gathered write; the rest queues as unsent output. */
  batchedBook(result: number, arena: Uint8Array, offset: number, length: number): void {
    this.batched -= length;
    if (this.isClosed) return;
    const written = result > 0 ? result : 0;
    if (written > 0) {
      // Inline, not wrote(): this and the lines below are the per-request path of a gathered write.
      this.loop.stats.c[S.bytesOut]! += written;
      this.lastWrite = this.loop.now();
    }
    if (written === length || (result < 0 && result !== EAGAIN && result !== EINTR)) return; // done, or failing (pass 2)
    this.queueUnsent(arena, offset + written, length - written);
  }

  /** SendBatch, pass 2: the callbacks sendBytes would have made. */
  batchedAfter(result: number, length: number): void {
    if (this.isClosed) return;
    if (result < 0 && result !== EAGAIN && result !== EINTR) {
      // EPIPE / ECONNRESET: an ordinary close reason, never a signal (pitfall 9).
      this.failWith(result, 'send');
      return;
    }
    if (result === length && this.output === null && this.batched === 0) {
      if (this.handlers.onWriteComplete) this.loop.queueInLoop(() => {
        if (!this.isClosed) this.handlers.onWriteComplete?.(this);
      });
      return;
    }
    this.checkHighWater(this.bufferedAmount);
  }

  /** Graceful half-close: flush the output, then send FIN. Reading goes on until the peer's FIN. */
  shutdown(): void {
    if (this.isClosed || this.localEof || this.wantShutdown) return;
    this.tlsSession?.closeNotify();
    if (this.isClosed) return;
    this.wantShutdown = true;
    // The FIN goes after the gathered bytes; if the kernel did not take them all, after the rest drains.
    this.sendGathered();
    if (this.isClosed) return;
    if (this.output === null) this.shutdownWrite();
    else this.state = 'disconnecting';
  }

  /**
   * Graceful close: flush, send FIN, discard whatever else arrives, and close
   * at the peer's FIN (or after lingerMs). Closing with unread input would
   * send RST and could destroy the reply the peer has not read yet.
   */
  close(): void {
    if (this.isClosed) return;
    this.discardInput = true;
    this.input = null;
    if (this.readPaused) this.resumeReading();
    if (this.localEof && this.peerEof) this.handleClose(this.initiator);
    else this.shutdown();
  }

  /** Closes now: queued output is dropped. */
  forceClose(reason: CloseReason = 'local'): void {
    if (this.isClosed) return;
    this.handleClose(reason);
  }

  /** Closes now with RST (SO_LINGER 0), e.g. to shed a misbehaving peer. */
  abort(reason: CloseReason = 'local'): void {
    if (this.isClosed) return;
    native.setLingerZero(this.fd);
    this.handleClose(reason);
  }

  pauseReading(): void {
    if (this.isClosed || this.readPaused) return;
    this.readPaused = true;
    if (this.channel.isReading) this.channel.disableReading();
    // Read ahead this turn, and its event may now never come (the channel left epoll): the bytes
    // move to the input buffer while their slot is still theirs. An EOF waits for resumeReading().
    if (this.prefetched > 0) this.keepPrefetched();
  }

  resumeReading(): void {
    if (this.isClosed || !this.readPaused) return;
    this.readPaused = false;
    if (!this.peerEof) this.channel.enableReading();
    // Bytes left unconsumed when reading paused (a pipelined request, the next
    // line) are already here: epoll will not announce them again, and the peer
    // may be waiting for our answer before it sends more.
    if (this.input !== null && this.input.readableBytes > 0) this.loop.queueInLoop(() => this.redeliver());
    // An EOF or error read ahead while paused, after the bytes before it.
    if (this.prefetched !== NOTHING_READ) this.loop.queueInLoop(() => {
      if (!this.isClosed && !this.readPaused && this.prefetched !== NOTHING_READ) this.keepPrefetched();
    });
  }

  private redeliver(): void {
    const input = this.input;
    if (this.isClosed || this.readPaused || this.discardInput || input === null || input.readableBytes === 0) return;
    if (!this.handlers.onMessage) return;
    this.call(() => this.handlers.onMessage!(this, input));
    if (!this.isClosed && this.input !== null && this.input.readableBytes === 0) this.input = null;
  }

  get isReadingPaused(): boolean {
    return this.readPaused;
  }

  setNoDelay(on = true): void {
    native.setsockopt(this.fd, C.IPPROTO_TCP, C.TCP_NODELAY, on ? 1 : 0);
  }

  setKeepAlive(on: boolean, idleSec = 60, intervalSec = 10, count = 6): void {
    native.setsockopt(this.fd, C.SOL_SOCKET, C.SO_KEEPALIVE, on ? 1 : 0);
    if (!on) return;
    native.setsockopt(this.fd, C.IPPROTO_TCP, C.TCP_KEEPIDLE, idleSec);
    native.setsockopt(this.fd, C.IPPROTO_TCP, C.TCP_KEEPINTVL, intervalSec);
    native.setsockopt(this.fd, C.IPPROTO_TCP, C.TCP_KEEPCNT, count);
  }

  /** Closes with reason 'timeout' after ms without any byte read or written (0 turns it off). */
  setIdleTimeout(ms: number): void {
    this.idleDog?.cancel();
    this.idleDog = this.watch(ms, () => Math.max(this.lastRead, this.lastWrite));
  }

  /** Closes with reason 'timeout' after ms without a byte received (0 turns it off). */
  setReadTimeout(ms: number): void {
    this.readDog?.cancel();
    this.readDog = this.watch(ms, () => this.lastRead);
  }

  /** Closes with reason 'timeout' when queued output makes no progress for ms (a peer that stopped reading). */
  setWriteTimeout(ms: number): void {
    this.writeDog?.cancel();
    this.writeDog = this.watch(ms, () => this.lastWrite, () => this.output !== null);
  }

  /** Marks activity the byte counters cannot see (e.g. a handler still working). */
  touch(): void {
    this.lastRead = this.lastWrite = this.loop.now();
  }

  private watch(ms: number, last: () => number, active?: () => boolean): Watchdog | undefined {
    // Infinity never fires: the same as off.
    if (!(ms > 0 && ms < Infinity) || this.isClosed) return undefined;
    return new Watchdog(this.loop, ms, last, () => this.forceClose('timeout'), active);
  }

  // ---- the one way out ----------------------------------------------------

  private shutdownWrite(): void {
    this.localEof = true;
    native.shutdown(this.fd, C.SHUT_WR);
    if (this.peerEof) {
      this.handleClose(this.initiator);
      return;
    }
    this.initiator = 'local';
    this.state = 'localHalfClosed';
    if (!this.channel.isReading && !this.readPaused) this.channel.enableReading();
    // lingerMs is the user's: Infinity waits for the peer forever, anything below 0 (or NaN) is 0.
    if (this.lingerMs !== Infinity) this.lingerTimer = this.loop.runAfter(Math.max(0, this.lingerMs) || 0, () => this.forceClose('local'));
  }

  private failWith(errno: number, syscall: string): void {
    this.error = new SysError(errno, syscall, `on connection ${this.id}`);
    this.handleClose(errno === ECONNRESET || errno === EPIPE ? 'reset' : 'error');
  }

  /** Deregisters, closes the fd and releases state: exactly once, whoever starts it. */
  private handleClose(reason: CloseReason): void {
    if (this.state === CLOSED) return;
    // Written before the close was asked for: they leave first, as a direct send's would have.
    this.sendGathered();
    if (this.state === CLOSED) return;
    const wasEstablished = this.state !== 'connecting';
    this.state = 'closed';
    this.closeReason = reason;
    this.channel.remove();
    native.close(this.fd);
    this.idleDog?.cancel();
    this.readDog?.cancel();
    this.writeDog?.cancel();
    this.lingerTimer?.cancel();
    this.idleDog = this.readDog = this.writeDog = undefined;
    this.lingerTimer = undefined;
    this.input = this.output = null;
    this.tlsSession?.free();
    if (wasEstablished) this.loop.stats.closed(reason);
    const h = this.handlers;
    this.call(() => h.onClose?.(this, reason, this.error));
  }

  /** call(onMessage) without a closure per read: the hot path of every connection. */
  private callMessage(buf: Buffer): void {
    try {
      this.handlers.onMessage!(this, buf);
    } catch (err) {
      this.loop.reportError(err);
      if (!this.isClosed) this.handleClose('error');
    }
  }

  /** Runs a user callback; an exception closes this connection, never the loop. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.loop.reportError(err);
      if (!this.isClosed) this.handleClose('error');
    }
  }
}
