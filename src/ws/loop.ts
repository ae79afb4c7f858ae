/**
 * The WebSocket side of one event loop: its open sockets, the sweeper that
 * pings quiet clients and closes dead ones (one periodic timer per loop, not
 * one per socket), the loop's topics, and the shared compressor.
 * Thread: its loop's. Owns the set of open sockets, the topic table of this
 * loop and the shared deflate codecs.
 */
import type { EventLoop } from '../reactor/EventLoop.js';
import type { Timer } from '../reactor/TimerQueue.js';
import type { TcpConnection } from '../reactor/TcpConnection.js';
import type { Output } from '../http/output.js';
import { codecFor, type DeflateCodec } from './deflate.js';
import { encodeFrame, FIN, OP_BINARY, OP_TEXT, RSV1 } from './frame.js';
import { Fanout } from './fanout.js';
import type { Handshake } from './handshake.js';
import { resolveWsOptions, type ResolvedWsOptions, type WebSocketBehavior, type WebSocketHandlers, type WsData } from './options.js';
import type { Bus } from './pubsub.js';
import { COMPRESS_MIN, dataBytes, ServerWebSocket } from './websocket.js';

/** The sockets of this loop subscribed to each topic; the server-wide counts live in the Bus. */
export class LocalTopics {
  private readonly map = new Map<string, Set<ServerWebSocket>>();

  constructor(
    private readonly bus: Bus | null,
  ) {}

  add(topic: string, ws: ServerWebSocket): void {
    let s = this.map.get(topic);
    if (s === undefined) this.map.set(topic, (s = new Set()));
    s.add(ws);
    this.bus?.count(topic, +1);
  }

  remove(topic: string, ws: ServerWebSocket): void {
    const s = this.map.get(topic);
    if (s === undefined || !s.delete(ws)) return;
    if (s.size === 0) this.map.delete(topic);
    this.bus?.count(topic, -1);
  }

  get(topic: string): Set<ServerWebSocket> | undefined {
    return this.map.get(topic);
  }
}

export interface WsLoopStats {
  /** Sends and publish deliveries dropped for backpressure. */
  dropped: number;
  /** Connections failed for a protocol violation. */
  violations: number;
}

export class WsLoop {
  readonly options: ResolvedWsOptions;
  readonly handlers: WebSocketHandlers<unknown>;
  /** `drain` runs when a socket's queue falls to this. */
  readonly lowMark: number;
  readonly topics: LocalTopics;
  readonly stats: WsLoopStats = { dropped: 0, violations: 0 };
  private readonly live = new Set<ServerWebSocket>();
  private sweeper: Timer | null = null;
  private readonly tick: number;
  private readonly sharedCodecs = new Map<number, DeflateCodec>();
  /** Published frames of this turn and the subscribers to write them to when it ends. */
  readonly fanout: Fanout;

  constructor(
    readonly loop: EventLoop,
    readonly output: Output,
    behavior: WebSocketBehavior,
    private readonly reportError: (err: unknown) => void,
    readonly bus: Bus | null = null,
  ) {
    this.options = resolveWsOptions(behavior);
    this.handlers = behavior;
    this.lowMark = this.options.maxBackpressure >> 2;
    this.topics = new LocalTopics(bus);
    this.fanout = new Fanout(loop, output, reportError);
    const o = this.options;
    const shortest = Math.min(o.idleTimeoutMs > 0 ? o.idleTimeoutMs / 2 : Infinity, o.closeTimeoutMs);
    // Timers are honoured within a quarter of the shortest one (at most 1 s late).
    this.tick = Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
    bus?.attach(loop, (topic, payload, binary) => this.deliver(topic, payload, binary));
  }

  /** Makes the socket for a connection whose 101 was just written. */
  open(conn: TcpConnection, h: Extract<Handshake, { ok: true }>, data: unknown): ServerWebSocket {
    const mode = this.options.compression;
    const codec = mode !== false && h.deflate !== null ? codecFor(mode, h.deflate, this.sharedCodecs) : null;
    return new ServerWebSocket(this, conn, data, h.protocol, h.extensions, codec);
  }

  add(ws: ServerWebSocket): void {
    this.live.add(ws);
    if (this.sweeper === null) this.sweeper = this.loop.runEvery(this.tick, this.sweep);
  }

  remove(ws: ServerWebSocket): void {
    this.live.delete(ws);
    if (this.live.size === 0 && this.sweeper !== null) {
      this.sweeper.cancel();
      this.sweeper = null;
    }
  }

  /** Open (and closing) sockets on this loop. */
  get size(): number {
    return this.live.size;
  }

  /** Runs a user handler; its exception is reported, and the socket lives on. */
  call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.reportError(err);
    }
  }

  /** The same for handlers that may return a promise (open, message). */
  callAsync(fn: () => unknown): void {
    try {
      const r = fn();
      if (r !== undefined && r !== null && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, (err: unknown) => this.reportError(err));
      }
    } catch (err) {
      this.reportError(err);
    }
  }

  /** The message handler, called as callAsync calls (no closure per message: this runs for every message). */
  callMessage(h: (ws: ServerWebSocket, message: string | Buffer) => unknown, ws: ServerWebSocket, message: string | Buffer): void {
    try {
      const r = h(ws, message);
      if (r !== undefined && r !== null && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, this.reportError);
      }
    } catch (err) {
      this.reportError(err);
    }
  }

  /**
   * Sends to every subscriber of `topic` on this loop (but `exclude`) and hands the message to
   * the other loops. Returns the frame's size once on its way, 0 when nobody is subscribed.
   */
  publish(topic: string, data: WsData, binary: boolean, exclude: ServerWebSocket | null): number {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    const payload = dataBytes(data);
    const local = this.sendLocal(topic, payload, binary, exclude, data);
    const remote = this.bus !== null ? this.bus.publish(topic, payload, binary) : 0;
    return local > 0 || remote > 0 ? payload.length + 2 : 0;
  }

  /** Subscribers of `topic` on every loop (this loop's when there is only one). */
  subscriberCount(topic: string): number {
    if (this.bus !== null) return this.bus.subscriberCount(topic);
    return this.topics.get(topic)?.size ?? 0;
  }

  /** A message published on another loop. */
  private deliver(topic: string, payload: Uint8Array, binary: boolean): void {
    const out = this.output;
    out.batching++;
    try {
      this.sendLocal(topic, payload, binary, null, payload);
    } finally {
      out.batching--;
    }
    if (out.pending > 0 && out.batching === 0) out.flush();
  }

  /** One frame built once, queued to each local subscriber under its own backpressure rules. */
  private sendLocal(topic: string, payload: Uint8Array, binary: boolean, exclude: ServerWebSocket | null, original: WsData): number {
    const subs = this.topics.get(topic);
    if (subs === undefined) return 0;
    const first = FIN | (binary ? OP_BINARY : OP_TEXT);
    const fanout = this.fanout;
    const journal = fanout.currentJournal;
    let frame: Uint8Array | null = null;
    let at = 0;
    // With shared compression every subscriber on a codec gets the same compressed frame.
    let compressed: Map<DeflateCodec, { frame: Uint8Array; at: number }> | null = null;
    let n = 0;
    for (const ws of subs) {
      if (ws === exclude) continue;
      n++;
      const codec = ws.sharedCodec;
      if (codec !== null && payload.length >= COMPRESS_MIN) {
        compressed ??= new Map();
        let c = compressed.get(codec);
        if (c === undefined) {
          const f = encodeFrame(first | RSV1, codec.deflate(payload));
          compressed.set(codec, (c = { frame: f, at: fanout.record(f) }));
        }
        ws.queueFrame(c.frame, journal, c.at, original);
        continue;
      }
      if (frame === null) at = fanout.record((frame = encodeFrame(first, payload)));
      ws.queueFrame(frame, journal, at, original);
    }
    return n;
  }


  private readonly sweep = (): void => {
    const now = this.loop.now();
    const o = this.options;
    const idle = o.idleTimeoutMs;
    for (const ws of this.live) {
      try {
        if (ws.closeDeadline !== 0) {
          if (now >= ws.closeDeadline) ws.expire('close');
          continue;
        }
        if (idle === 0) continue;
        const quiet = now - ws.lastInput;
        if (quiet >= idle) ws.expire('idle');
        else if (o.sendPings && !ws.pinged && quiet >= idle / 2) {
          ws.pinged = true;
          ws.ping();
        }
      } catch (err) {
        this.reportError(err);
      }
    }
  };
}
