/**
 * One server-side WebSocket: the object handlers receive (send, close,
 * pause, subscribe, publish...) and the protocol state machine of its TCP
 * connection after the 101 (RFC 6455 5-7). Output goes through the loop's
 * Output, so sends made while a batch of input is handled leave in one
 * syscall (corked); input is parsed by its Receiver.
 *
 * States: OPEN -> CLOSING (a close frame sent or received) -> CLOSED (the TCP
 * connection is gone; `close` has run, once).
 * Thread: the loop thread of its TcpConnection. Owns its Receiver, its
 * subscriptions and (with dedicated compression) its zlib streams.
 */
import type { Buffer as ReactorBuffer } from '../reactor/Buffer.js';
import type { TcpConnection } from '../reactor/TcpConnection.js';
import { S } from '../reactor/LoopStats.js';
import type { Output } from '../http/output.js';
import type { DeflateCodec } from './deflate.js';
import { FrameQueue } from './fanout.js';
import { closePayload, CloseCode, FIN, headerSize, isValidCloseCode, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RSV1 } from './frame.js';
import { SendStatus, type SendOptions, type SendResult, type WsData } from './options.js';
import { Receiver, type ReceiverSink } from './receiver.js';
import { copyBytes } from './utf8.js';
import type { WsLoop } from './loop.js';

export const WS_CONNECTING = 0;
export const WS_OPEN = 1;
export const WS_CLOSING = 2;
export const WS_CLOSED = 3;

/** Messages shorter than this are never compressed: the deflate overhead outweighs the gain. */
export const COMPRESS_MIN = 64;

/** Published frames queued for one subscriber are written at once past this many bytes, not at the turn's end. */
const QUEUE_FLUSH_BYTES = 16 * 1024;

/** Bytes of `data` as a view (strings are encoded). */
export function dataBytes(data: WsData): Uint8Array {
  if (typeof data === 'string') return globalThis.Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || (data as unknown) instanceof SharedArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`WebSocket data must be a string, an ArrayBufferView or an ArrayBuffer, got ${data === null ? 'null' : typeof data}`);
}

export class ServerWebSocket<T = unknown> implements ReceiverSink {
  /** The user data given to upgrade(). */
  data: T;
  /** The peer's IP address (kept, so the close handler can still log it). */
  readonly remoteAddress: string;
  /** The subprotocol agreed in the handshake ('' for none). */
  readonly protocol: string;
  /** Sec-WebSocket-Extensions as answered ('' for none). */
  readonly extensions: string;
  /** 1 open, 2 closing, 3 closed (the WHATWG numbers). */
  readyState: number = WS_OPEN;
  /** @internal For the loop's sweeper. */
  lastInput: number;
  /** @internal */
  pinged = false;
  /** @internal 0, or when a close we sent gives up waiting for the peer's. */
  closeDeadline = 0;
  /** @internal The loop's shared codec when this socket uses it: a message compressed once serves every such subscriber. */
  readonly sharedCodec: DeflateCodec | null;
  private readonly receiver: Receiver;
  private readonly out: Output;
  private paused = false;
  private wantDrain = false;
  private topics: Set<string> | null = null;
  /** @internal Published frames waiting for the end of the loop turn, to leave in one write (made at the first; null once closed). */
  fanoutQueue: FrameQueue | null = null;
  private sentClose = false;
  private gotClose = false;
  private code: number = CloseCode.Abnormal;
  private reason = '';

  constructor(
    private readonly wl: WsLoop,
    /** @internal */ readonly conn: TcpConnection,
    data: T,
    protocol: string | undefined,
    extensions: string,
    private readonly codec: DeflateCodec | null,
  ) {
    this.data = data;
    this.out = wl.output;
    this.protocol = protocol ?? '';
    this.extensions = extensions;
    this.remoteAddress = conn.remoteAddress()?.address ?? '';
    this.sharedCodec = wl.options.compression === 'shared' ? codec : null;
    this.lastInput = wl.loop.now();
    this.receiver = new Receiver(this, wl.options.maxPayloadLength, codec);
    // Any queued byte is "above high water": the drain event then fires at the low mark.
    conn.highWaterMark = 1;
    conn.lowWaterMark = wl.lowMark;
    conn.lingerMs = wl.options.closeTimeoutMs;
  }

  // ---- sending --------------------------------------------------------------

  /** Bytes queued for this socket and not yet taken by the kernel. */
  get bufferedAmount(): number {
    const out = this.out;
    return this.conn.bufferedAmount + (out.owner === this.conn ? out.pending : 0) + (this.fanoutQueue?.bytes ?? 0);
  }

  /**
   * Sends a message: text for strings, binary for bytes (unless `binary` says otherwise).
   * Returns its size in bytes when sent, SendStatus.BACKPRESSURE (-1) when queued behind
   * what the kernel has not taken yet (`drain` follows), SendStatus.DROPPED (0) when not sent.
   */
  send(data: WsData, opts?: SendOptions | boolean): SendResult {
    const binary = typeof opts === 'object' && opts.binary !== undefined ? opts.binary : typeof data !== 'string';
    const compress = typeof opts === 'boolean' ? opts : opts?.compress ?? true;
    if (this.readyState !== WS_OPEN) return SendStatus.DROPPED;
    const op = binary ? OP_BINARY : OP_TEXT;
    if (typeof data === 'string' && this.codec === null) {
      // The common case: encoded straight into the loop's output, no intermediate copy.
      const len = data.length < 256 && isAscii(data) ? data.length : globalThis.Buffer.byteLength(data);
      if (!this.admit(headerSize(len) + len, data)) return SendStatus.DROPPED;
      this.header(FIN | op, len);
      if (len === data.length) this.out.ascii(data);
      else this.out.utf8(data, len);
      this.wl.loop.stats.c[S.wsMessagesOut]!++;
      return this.sent(headerSize(len) + len);
    }
    let payload = dataBytes(data);
    let first = FIN | op;
    if (this.codec !== null && compress && payload.length >= COMPRESS_MIN) {
      payload = this.codec.deflate(payload);
      first |= RSV1;
    }
    return this.sendFrame(first, payload, data);
  }

  /** Sends a text message (see send). */
  sendText(text: string, compress?: boolean): SendResult {
    return this.send(text, { binary: false, compress: compress ?? true });
  }

  /** Sends a binary message (see send). */
  sendBinary(data: ArrayBufferView | ArrayBuffer, compress?: boolean): SendResult {
    return this.send(data, { binary: true, compress: compress ?? true });
  }

  /** Sends a ping (up to 125 bytes); the peer's pong arrives in the `pong` handler. */
  ping(data: WsData = ''): SendResult {
    return this.control(OP_PING, data);
  }

  /** Sends an unsolicited pong (a heartbeat that needs no answer). */
  pong(data: WsData = ''): SendResult {
    return this.control(OP_PONG, data);
  }

  /** Runs fn with output corked: everything it sends leaves in one write. */
  cork<R>(fn: (ws: this) => R): R {
    this.out.batching++;
    try {
      return fn(this);
    } finally {
      const out = this.out;
      out.batching--;
      if (out.pending > 0 && out.batching === 0) out.flush();
    }
  }

  /** @internal A prebuilt frame (pub/sub: one frame for all subscribers). */
  sendFrame(first: number, payload: Uint8Array, original?: WsData): SendResult {
    if (this.readyState !== WS_OPEN) return SendStatus.DROPPED;
    const size = headerSize(payload.length) + payload.length;
    if (!this.admit(size, original ?? payload)) return SendStatus.DROPPED;
    this.header(first, payload.length);
    this.out.bytes(payload);
    this.wl.loop.stats.c[S.wsMessagesOut]!++;
    return this.sent(size);
  }

  /**
   * @internal A whole prebuilt frame, header included, shared by every subscriber (pub/sub).
   * It waits with this turn's other published frames for WsLoop's end-of-turn flush, so a
   * subscriber gets one write per turn, not one per message; anything sent to this socket
   * meanwhile goes out behind it (see header).
   */
  queueFrame(frame: Uint8Array, journal: Uint8Array[], index: number, original: WsData): SendResult {
    if (this.readyState !== WS_OPEN) return SendStatus.DROPPED;
    if (!this.admit(frame.length, original)) return SendStatus.DROPPED;
    this.wl.loop.stats.c[S.wsMessagesOut]!++;
    const q = (this.fanoutQueue ??= new FrameQueue());
    if (q.add(journal, index, frame)) this.wl.fanout.enlist(this);
    if (q.bytes >= QUEUE_FLUSH_BYTES) {
      // Batching saves syscalls for small frames only; big ones meet the kernel (and backpressure) now.
      q.writeTo(this.out, this.conn);
      this.out.flush();
    }
    if (this.conn.bufferedAmount > 0) {
      this.wantDrain = true;
      return SendStatus.BACKPRESSURE;
    }
    return frame.length;
  }


  /** Backpressure rules: false when the frame must be dropped (or the socket was closed for it). */
  private admit(size: number, original: WsData): boolean {
    const buffered = this.bufferedAmount;
    const max = this.wl.options.maxBackpressure;
    if (buffered === 0 || buffered + size <= max) return true;
    this.wantDrain = true;
    this.wl.stats.dropped++;
    if (this.wl.options.closeOnBackpressureLimit) {
      this.code = CloseCode.Abnormal;
      this.reason = 'backpressure limit';
      this.conn.forceClose('local');
      return false;
    }
    const h = this.wl.handlers.dropped;
    if (h) this.wl.call(() => h(this, typeof original === 'string' ? original : globalThis.Buffer.from(dataBytes(original))));
    return false;
  }

  private header(first: number, len: number): void {
    // Published frames still waiting go into the output first, so nothing overtakes them.
    if (this.fanoutQueue !== null && !this.fanoutQueue.isEmpty) this.fanoutQueue.writeTo(this.out, this.conn);
    const out = this.out;
    out.begin(this.conn);
    out.frameHeader(first, len);
  }

  private sent(size: number): SendResult {
    this.flushSoon();
    if (this.conn.bufferedAmount > 0) {
      this.wantDrain = true;
      return SendStatus.BACKPRESSURE;
    }
    return size;
  }

  private flushSoon(): void {
    const out = this.out;
    if (out.owner !== this.conn || out.pending === 0) return;
    if (out.pending >= 16 * 1024) out.flush();
    else out.flushSoon();
  }

  private control(op: number, data: WsData): SendResult {
    const p = dataBytes(data);
    if (p.length > 125) throw new RangeError(`a ${op === OP_PING ? 'ping' : 'pong'} carries at most 125 bytes, got ${p.length}`);
    if (this.readyState !== WS_OPEN) return SendStatus.DROPPED;
    // Control frames are never refused for backpressure: they are small, and a ping must not be lost.
    this.header(FIN | op, p.length);
    this.out.bytes(p);
    return this.sent(2 + p.length);
  }

  // ---- closing --------------------------------------------------------------

  /**
   * Starts the close handshake: our close frame now, the TCP connection closed when the peer
   * answers (or after closeTimeout). `code`: 1000 or an application code (3000-4999); `reason`
   * up to 123 bytes of UTF-8.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (!Number.isInteger(code) || !isValidCloseCode(code)) throw new RangeError(`close code must be 1000, 1001-1003, 1007-1014 or 3000-4999, got ${code}`);
    if (globalThis.Buffer.byteLength(reason) > 123) throw new RangeError('close reason must be at most 123 bytes of UTF-8');
    if (this.readyState !== WS_OPEN) return;
    this.sendClose(code, reason);
    this.closeDeadline = this.wl.loop.now() + this.wl.options.closeTimeoutMs;
  }

  /** Cuts the TCP connection now, without a close handshake (queued output is dropped). */
  terminate(): void {
    if (this.readyState === WS_CLOSED) return;
    this.conn.forceClose('local');
  }

  private sendClose(code: number, reason: string): void {
    this.sentClose = true;
    this.readyState = WS_CLOSING;
    // No message reaches the app any more; the peer's close frame must be read even if paused.
    this.resume();
    if (!this.gotClose) {
      this.code = code;
      this.reason = reason;
    }
    const p = closePayload(code, reason);
    this.header(FIN | OP_CLOSE, p.length);
    this.out.bytes(p);
    this.flushSoon();
  }

  // ---- input control ----------------------------------------------------------

  /** Stops reading: no `message` until resume(). The kernel's buffer fills and TCP slows the client down. */
  pause(): void {
    if (this.paused || this.readyState === WS_CLOSED) return;
    this.paused = true;
    this.conn.pauseReading();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.readyState !== WS_CLOSED) this.conn.resumeReading();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  // ---- pub/sub ------------------------------------------------------------------

  /** Subscribes to a topic of the server (any loop's publish reaches it). */
  subscribe(topic: string): void {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    if (this.readyState === WS_CLOSED) return;
    const t = (this.topics ??= new Set());
    if (t.has(topic)) return;
    t.add(topic);
    this.wl.topics.add(topic, this);
  }

  unsubscribe(topic: string): void {
    if (this.topics === null || !this.topics.delete(topic)) return;
    this.wl.topics.remove(topic, this);
  }

  isSubscribed(topic: string): boolean {
    return this.topics !== null && this.topics.has(topic);
  }

  /** The topics this socket is subscribed to. */
  get subscriptions(): string[] {
    return this.topics === null ? [] : [...this.topics];
  }

  /**
   * Sends to every subscriber of `topic` on every loop except this socket (unless
   * publishToSelf). Returns the message's size in bytes once it is on its way, 0 when no
   * socket anywhere is subscribed.
   */
  publish(topic: string, data: WsData, opts?: SendOptions | boolean): number {
    const binary = typeof opts === 'object' && opts.binary !== undefined ? opts.binary : typeof data !== 'string';
    return this.wl.publish(topic, data, binary, this.wl.options.publishToSelf ? null : this);
  }

  // ---- reactor events (the connection protocol) ---------------------------------

  /** @internal The 101 is written (into the loop's output, flushed here after the open handler): the socket is open. `rest`: bytes the client sent right behind the handshake. */
  start(rest: Uint8Array | null): void {
    this.wl.add(this);
    this.wl.loop.stats.c[S.wsOpen]!++;
    const open = this.wl.handlers.open;
    const out = this.out;
    out.batching++;
    try {
      if (open) this.wl.callAsync(() => open(this));
      if (rest !== null && rest.length > 0 && this.readyState !== WS_CLOSED) this.receiver.feed(rest, 0, rest.length);
    } finally {
      out.batching--;
    }
    if (out.pending > 0 && out.batching === 0) out.flush();
    if (this.paused) this.conn.pauseReading();
  }

  onMessage(buf: ReactorBuffer): void {
    if (this.readyState === WS_CLOSED) {
      buf.retrieveAll();
      return;
    }
    this.lastInput = this.wl.loop.now();
    this.pinged = false;
    const out = this.out;
    out.batching++;
    try {
      const r = buf.r;
      buf.retrieve(this.receiver.feed(buf.data, r, buf.w) - r);
    } finally {
      out.batching--;
    }
    // Whoever owns the scratch now: a handler may have sent to other sockets (publish).
    if (out.pending > 0 && out.batching === 0) out.flush();
  }

  onPeerHalfClose(): void {
    // A FIN without a close frame is an abnormal end (1006); after the handshake it is the normal one.
    this.closeTcp();
  }

  onDrain(): void {
    if (!this.wantDrain || this.readyState !== WS_OPEN) return;
    this.wantDrain = false;
    const h = this.wl.handlers.drain;
    if (h) this.wl.call(() => h(this));
  }

  onClose(): void {
    if (this.readyState === WS_CLOSED) return;
    this.readyState = WS_CLOSED;
    this.fanoutQueue = null;
    this.receiver.finish();
    if (this.topics !== null) {
      for (const t of this.topics) this.wl.topics.remove(t, this);
      this.topics = null;
    }
    this.wl.remove(this);
    this.wl.loop.stats.c[S.wsOpen]!--;
    if (this.codec !== null && this.wl.options.compression === 'dedicated') this.codec.close();
    const h = this.wl.handlers.close;
    if (h) this.wl.call(() => h(this, this.code, this.reason));
  }

  /** The server is stopping: 1001 to the client; the server's stop timeout cuts what does not answer. */
  onStop(): void {
    if (this.readyState === WS_OPEN) this.close(CloseCode.GoingAway, 'server shutting down');
  }

  /** @internal The sweeper found the socket quiet for idleTimeout, or its close unanswered. */
  expire(kind: 'idle' | 'close'): void {
    if (kind === 'close' || this.readyState !== WS_OPEN) {
      this.conn.forceClose('timeout');
      return;
    }
    this.sendClose(CloseCode.GoingAway, 'idle timeout');
    // The peer is silent: no handshake to wait for. Flush, FIN, and lingerMs bounds the rest.
    this.closeTcp();
  }

  // ---- ReceiverSink -------------------------------------------------------------

  get holdInput(): boolean {
    return (this.paused && this.readyState === WS_OPEN) || this.readyState === WS_CLOSED;
  }

  onText(text: string): void {
    if (this.readyState !== WS_OPEN) return; // after our close frame, data is discarded (RFC 6455 5.5.1)
    this.wl.loop.stats.c[S.wsMessagesIn]!++;
    const h = this.wl.handlers.message;
    if (h) this.wl.callMessage(h, this, text);
  }

  onBinary(d: Uint8Array, s: number, e: number, owned: boolean): void {
    if (this.readyState !== WS_OPEN) return;
    this.wl.loop.stats.c[S.wsMessagesIn]!++;
    const h = this.wl.handlers.message;
    if (!h) return;
    // Bytes still in the read buffer are copied (the handler may keep them); a message already collected is handed over as it is.
    const msg = owned ? globalThis.Buffer.from(d.buffer, d.byteOffset + s, e - s) : copyBytes(d, s, e);
    this.wl.callMessage(h, this, msg);
  }

  onPing(payload: Uint8Array): void {
    if (this.readyState !== WS_OPEN) return;
    this.control(OP_PONG, payload);
    const h = this.wl.handlers.ping;
    if (h) this.wl.call(() => h(this, globalThis.Buffer.from(payload)));
  }

  onPong(payload: Uint8Array): void {
    const h = this.wl.handlers.pong;
    if (h && this.readyState === WS_OPEN) this.wl.call(() => h(this, globalThis.Buffer.from(payload)));
  }

  onPeerClose(code: number, reason: string): void {
    this.gotClose = true;
    this.code = code;
    this.reason = reason;
    // Echo code and reason (an empty close answers an empty one), then the server closes TCP first (7.1.1).
    if (!this.sentClose) this.sendClose(code, reason);
    this.closeDeadline = 0;
    this.closeTcp();
  }

  onViolation(code: number, reason: string): void {
    this.wl.stats.violations++;
    if (!this.sentClose) this.sendClose(code, reason);
    this.code = code;
    this.reason = reason;
    this.closeTcp();
  }

  /** FIN after everything queued, our close frame included (it may still sit in the loop's Output). */
  private closeTcp(): void {
    if (this.fanoutQueue !== null && !this.fanoutQueue.isEmpty) this.fanoutQueue.writeTo(this.out, this.conn);
    if (this.out.owner === this.conn && this.out.pending > 0) this.out.flush();
    this.conn.close();
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
