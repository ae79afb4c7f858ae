/**
 * What every one of the -c connections does whatever it speaks: claim work
 * from its driver, connect (over TLS when the run is https:// or wss://),
 * count a failed connect, and account for every unit of work in flight when
 * the connection goes. Thread: its driver's loop. Owns at most one live
 * TcpConnection and the work in flight on it; every unit of that work leaves
 * through exactly one of: an answer (the subclass), failAll(kind), or the
 * driver's final unanswered count.
 */
import type { TlsClientOptions } from '../reactor/tls/options.js';
import { connect, type EventLoop, type TcpConnection, type ConnectionHandlers, type CloseReason, type Buffer } from '../reactor/index.js';
import type { Failure } from './stats.js';

/** What a slot needs from its driver, whatever the protocol (kept narrow so a slot can be read on its own). */
export interface SlotDriver {
  readonly loop: EventLoop;
  readonly host: string;
  readonly port: number;
  readonly pipeline: number;
  readonly connectTimeoutMs: number;
  /** Aborted when the run ends: connects still pending are given up then, not at their timeout. */
  readonly connectSignal: AbortSignal;
  readonly tls: TlsClientOptions | undefined;
  /** Whether new work may still be issued or is in flight (reconnecting is worthwhile). */
  readonly active: boolean;
  /** Claims the next unit of work: its intended start time (performance.now() ms), or -1 for none now. */
  take(now: number): number;
  /** This slot has room for more work but none is due: call fill() when some is. */
  park(slot: ConnectionSlot): void;
  failed(kind: Failure, count: number, now: number): void;
  connectFailed(code: string, now: number): void;
  /** A connection is up; with TLS, how long its handshake took. */
  connected(handshakeMs?: number): void;
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

export abstract class ConnectionSlot {
  conn: TcpConnection | null = null;
  connecting = false;
  parked = false;
  /** Intended start times of the work in flight, oldest first. */
  readonly intended: number[] = [];
  /** When each was actually written (NaN while waiting for the connect). */
  readonly sent: number[] = [];
  protected readonly handlers: ConnectionHandlers;

  constructor(
    readonly index: number,
    private readonly driver: SlotDriver,
  ) {
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

  /** Sends as much work as the pipeline allows and the driver hands out; connects first if needed. */
  fill(): void {
    if (this.connecting) return;
    const d = this.driver;
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
      this.openConnection();
      return;
    }
    if (!this.ready()) return; // the protocol's own start sends what is waiting
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

  /** Whether work may be written on the connection now (false while a protocol handshake is under way). */
  protected ready(): boolean {
    return true;
  }

  /** Forgets the state of the previous connection: a new one is being opened. */
  protected abstract reset(): void;

  /** Writes the last k claimed units of work. */
  protected abstract write(conn: TcpConnection, k: number): void;

  /** The connection is up and this slot owns it: start the protocol. */
  protected abstract start(conn: TcpConnection): void;

  protected abstract onMessage(c: TcpConnection, buf: Buffer): void;

  protected abstract onPeerHalfClose(c: TcpConnection): void;

  /** The connection went without the protocol saying so: account for what was in flight. */
  protected lostInFlight(kind: Failure, now: number): void {
    this.failAll(kind, now);
  }

  private openConnection(): void {
    this.connecting = true;
    this.reset();
    const d = this.driver;
    // onConnection (in the handlers) takes over on success, before the promise settles.
    const tls = d.tls;
    connect(d.loop, { host: d.host, port: d.port, timeout: d.connectTimeoutMs, handlers: this.handlers, signal: d.connectSignal, ...(tls ? { tls } : {}) }).then(
      undefined,
      (err: unknown) => this.onConnectError(err),
    );
  }

  private onConnection(c: TcpConnection): void {
    this.connecting = false;
    if (!this.driver.active) {
      // The run ended while we were connecting; the driver counted the work as unanswered.
      c.forceClose('local');
      return;
    }
    this.conn = c;
    this.driver.connected(c.tls?.handshakeMs);
    // The connect (and handshakes) count toward the first requests' latency and --timeout.
    const now = performance.now();
    for (let i = 0; i < this.sent.length; i++) if (Number.isNaN(this.sent[i])) this.sent[i] = now;
    this.start(c);
  }

  private onConnectError(err: unknown): void {
    this.connecting = false;
    const d = this.driver;
    if (!d.active && this.intended.length === 0) return;
    const now = performance.now();
    const code = (err as { code?: string }).code ?? 'EUNKNOWN';
    const n = this.intended.length;
    this.intended.length = 0;
    this.sent.length = 0;
    if (n > 0) {
      if (code === 'ECONNREFUSED') d.failed('connectRefused', n, now);
      else if (code === 'ETIMEDOUT') d.failed('connectTimeout', n, now);
      else for (let i = 0; i < n; i++) d.connectFailed(code, now);
    }
    d.later(() => this.fill());
  }

  private onClose(c: TcpConnection, reason: CloseReason, err: { code?: string } | undefined): void {
    this.driver.lingering(c, false);
    if (c !== this.conn) return;
    this.conn = null;
    this.lostInFlight(failureFor(reason, err), performance.now());
    if (this.driver.active) this.driver.later(() => this.fill());
  }

  protected failAll(kind: Failure, now: number): void {
    const n = this.intended.length;
    if (n === 0) return;
    this.intended.length = 0;
    this.sent.length = 0;
    this.driver.failed(kind, n, now);
  }

  /** Stops using the current connection and, if there is more to do, opens another. */
  protected drop(force: boolean): void {
    const c = this.conn;
    this.conn = null;
    if (c && !c.isClosed) {
      if (force) c.forceClose('local');
      else {
        // Let the server close first so TIME_WAIT lands on its side, as with ab without -k.
        this.driver.lingering(c, true);
        c.close();
      }
    }
    if (this.driver.active) this.driver.later(() => this.fill());
  }
}
