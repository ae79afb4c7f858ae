/**
 * One of the -c connections: a request/response state machine that keeps a
 * TCP connection open (or opens one per request with --close) and sends the
 * driver's requests over it. Thread: its driver's loop. Owns at most one live
 * TcpConnection at a time and the requests in flight on it; every one of those
 * requests leaves through exactly one of: a response, failAll(kind), or the
 * driver's final unanswered count.
 */
import type { TlsClientOptions } from '../reactor/tls/options.js';
import { connect, type EventLoop, type TcpConnection, type ConnectionHandlers, type CloseReason, type Buffer } from '../reactor/index.js';
import { MalformedResponse, ResponseParser } from './parser.js';
import type { Failure } from './stats.js';

/** What a slot needs from its driver (kept narrow so the slot can be read on its own). */
export interface SlotHost {
  readonly loop: EventLoop;
  readonly host: string;
  readonly port: number;
  readonly pipeline: number;
  readonly closeEach: boolean;
  readonly connectTimeoutMs: number;
  /** Aborted when the run ends: connects still pending are given up then, not at their timeout. */
  readonly connectSignal: AbortSignal;
  readonly single: Uint8Array;
  readonly batch: Uint8Array;
  readonly head: boolean;
  /** Whether new requests may still be issued or are in flight (reconnecting is worthwhile). */
  readonly active: boolean;
  /** Claims the next request: its intended start time (performance.now() ms), or -1 for none now. */
  take(now: number): number;
  /** This slot has room for more requests but none are due: call fill() when some are. */
  park(slot: Slot): void;
  response(status: number, intendedMs: number, now: number): void;
  failed(kind: Failure, count: number, now: number): void;
  connectFailed(code: string, now: number): void;
  /** A connection is up; with TLS, how long its handshake took. */
  connected(handshakeMs?: number): void;
  readonly tls: TlsClientOptions | undefined;
  bytes(inBytes: number, outBytes: number): void;
  /** A connection we no longer use but that is still closing gracefully (closed at dispose). */
  lingering(conn: TcpConnection, on: boolean): void;
  /** Schedules fn after the current batch (never synchronously: retries must not starve timers). */
  later(fn: () => void): void;
}

export function failureFor(reason: CloseReason, err: { code?: string } | undefined): Failure {
  switch (reason) {
    case 'reset':
      return 'reset';
    case 'timeout':
      return 'timeout';
    case 'error':
      return err?.code === 'ECONNRESET' || err?.code === 'EPIPE' || err?.code === 'ECONNABORTED' ? 'reset' : 'closed';
    default:
      return 'closed';
  }
}

export class Slot {
  conn: TcpConnection | null = null;
  connecting = false;
  parked = false;
  /** Intended start times of the requests in flight, oldest first. */
  readonly intended: number[] = [];
  /** When each was actually written (NaN while waiting for the connect). */
  readonly sent: number[] = [];
  private readonly parser: ResponseParser;
  /** Bytes left unconsumed in the connection's input last time (not new when presented again). */
  private carried = 0;
  /** A response said Connection: close (or --close): stop using this connection after parsing. */
  private closeAfter = false;
  /** A response arrived with no request in flight: the byte stream cannot be trusted. */
  private unexpected = false;
  private now = 0;
  private readonly handlers: ConnectionHandlers;

  constructor(
    readonly index: number,
    private readonly d: SlotHost,
  ) {
    this.parser = new ResponseParser((status, keepAlive) => this.onResponse(status, keepAlive), d.head);
    this.handlers = {
      onConnection: (c) => this.onConnection(c),
      onMessage: (c, buf) => this.onMessage(c, buf),
      onPeerHalfClose: (c) => this.onPeerHalfClose(c),
      onClose: (c, reason, err) => this.onClose(c, reason, err),
    };
  }

  get inFlight(): number {
    return this.intended.length;
  }

  /** Sends as many requests as the pipeline allows and the driver hands out; connects first if needed. */
  fill(): void {
    if (this.connecting) return;
    const d = this.d;
    const now = performance.now();
    if (this.conn === null) {
      if (!d.active) return;
      const t = d.take(now);
      if (t < 0) {
        d.park(this);
        return;
      }
      this.intended.push(t);
      this.sent.push(NaN);
      this.open();
      return;
    }
    let k = 0;
    while (this.intended.length < d.pipeline) {
      const t = d.take(now);
      if (t < 0) break;
      this.intended.push(t);
      this.sent.push(now);
      k++;
    }
    if (k > 0) this.write(this.conn, k);
    if (this.intended.length < d.pipeline) d.park(this);
  }

  /** Per-request timeout (checked by the driver's sweep): fail what is in flight, drop the connection. */
  timedOut(now: number): void {
    this.failAll('timeout', now);
    this.drop(true);
  }

  /** The run is over: detach and close now, counting nothing (the driver already counted). */
  abandon(): void {
    this.intended.length = 0;
    this.sent.length = 0;
    const c = this.conn;
    this.conn = null;
    if (c && !c.isClosed) c.forceClose('local');
  }

  private open(): void {
    this.connecting = true;
    this.parser.reset();
    this.carried = 0;
    this.closeAfter = false;
    this.unexpected = false;
    const d = this.d;
    // onConnection (in the handlers) takes over on success, before the promise settles.
    const tls = d.tls;
    connect(d.loop, { host: d.host, port: d.port, timeout: d.connectTimeoutMs, handlers: this.handlers, signal: d.connectSignal, ...(tls ? { tls } : {}) }).then(
      undefined,
      (err: unknown) => this.onConnectError(err),
    );
  }

  private write(conn: TcpConnection, k: number): void {
    const d = this.d;
    const bytes = k === 1 ? d.single : d.batch.subarray(0, k * d.single.length);
    d.bytes(0, bytes.length);
    conn.send(bytes);
  }

  private onConnection(c: TcpConnection): void {
    this.connecting = false;
    if (!this.d.active) {
      // The run ended while we were connecting; the driver counted the request as unanswered.
      c.forceClose('local');
      return;
    }
    this.conn = c;
    this.d.connected(c.tls?.handshakeMs);
    const now = performance.now();
    for (let i = 0; i < this.sent.length; i++) if (Number.isNaN(this.sent[i])) this.sent[i] = now;
    if (this.intended.length > 0) this.write(c, this.intended.length);
    this.fill();
  }

  private onConnectError(err: unknown): void {
    this.connecting = false;
    if (!this.d.active && this.intended.length === 0) return;
    const now = performance.now();
    const code = (err as { code?: string }).code ?? 'EUNKNOWN';
    const n = this.intended.length;
    this.intended.length = 0;
    this.sent.length = 0;
    if (n > 0) {
      if (code === 'ECONNREFUSED') this.d.failed('connectRefused', n, now);
      else if (code === 'ETIMEDOUT') this.d.failed('connectTimeout', n, now);
      else for (let i = 0; i < n; i++) this.d.connectFailed(code, now);
    }
    this.d.later(() => this.fill());
  }

  private onMessage(c: TcpConnection, buf: Buffer): void {
    if (c !== this.conn) {
      buf.retrieveAll();
      return;
    }
    const view = buf.peek();
    this.d.bytes(view.length - this.carried, 0);
    this.now = performance.now();
    let used: number;
    try {
      used = this.parser.execute(view);
    } catch (err) {
      if (!(err instanceof MalformedResponse)) throw err;
      buf.retrieveAll();
      this.failAll('malformed', this.now);
      this.drop(true);
      return;
    }
    buf.retrieve(used);
    this.carried = buf.readableBytes;
    if (this.unexpected) {
      this.failAll('malformed', this.now);
      this.drop(true);
    } else if (this.closeAfter) {
      // The server will not read more requests on this connection: whatever is still in flight was lost.
      this.failAll('closed', this.now);
      this.drop(false);
    } else {
      this.fill();
    }
  }

  private onResponse(status: number, keepAlive: boolean): boolean {
    const t0 = this.intended.shift();
    this.sent.shift();
    if (t0 === undefined) {
      this.unexpected = true;
      return false;
    }
    this.d.response(status, t0, this.now);
    if (!keepAlive || this.d.closeEach) {
      this.closeAfter = true;
      return false;
    }
    return true;
  }

  private onPeerHalfClose(c: TcpConnection): void {
    if (c !== this.conn) {
      c.forceClose('local');
      return;
    }
    this.now = performance.now();
    // A body delimited by the close is complete now; anything else in flight was cut off.
    this.parser.eof();
    this.failAll('closed', this.now);
    this.drop(true);
  }

  private onClose(c: TcpConnection, reason: CloseReason, err: { code?: string } | undefined): void {
    this.d.lingering(c, false);
    if (c !== this.conn) return;
    this.conn = null;
    this.failAll(failureFor(reason, err), performance.now());
    if (this.d.active) this.d.later(() => this.fill());
  }

  private failAll(kind: Failure, now: number): void {
    const n = this.intended.length;
    if (n === 0) return;
    this.intended.length = 0;
    this.sent.length = 0;
    this.d.failed(kind, n, now);
  }

  /** Stops using the current connection and, if there is more to do, opens another. */
  private drop(force: boolean): void {
    const c = this.conn;
    this.conn = null;
    if (c && !c.isClosed) {
      if (force) c.forceClose('local');
      else {
        // Let the server close first so TIME_WAIT lands on its side, as with ab without -k.
        this.d.lingering(c, true);
        c.close();
      }
    }
    if (this.d.active) this.d.later(() => this.fill());
  }
}
