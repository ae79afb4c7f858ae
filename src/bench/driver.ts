/**
 * The load generator of one loop thread: hands requests to its slots (closed
 * loop, or open loop at a fixed rate), enforces the per-request timeout, the
 * deadline and the grace period, and counts everything into one Stats.
 * Thread: the loop it was created on. Owns its slots, its timers, its Stats
 * and its row of the live counters.
 */
import { setMaxListeners } from 'node:events';
import type { EventLoop, Timer, TcpConnection } from '../reactor/index.js';
import { Slot, type SlotHost } from './slot.js';
import type { ConnectionSlot } from './connection-slot.js';
import { Stats, type Failure, type StatsSnapshot } from './stats.js';
import { Live, LiveRow } from './live.js';
import type { RequestBytes } from './request.js';
import type { BenchTls } from './options.js';
import type { TlsClientOptions } from '../reactor/tls/options.js';
import { WsSlot, type WsSlotHost } from './ws-slot.js';
import type { WsRequest } from './ws-request.js';

/** One thread's share of the run. Structured-clonable: it is workerData for -t > 1. */
export interface DriverConfig {
  thread: number;
  /** Already resolved to an address: a DNS lookup per connect would be measured too. */
  host: string;
  port: number;
  connections: number;
  /** This thread's share of -n; undefined with -d. */
  requests?: number;
  durationMs?: number;
  /** This thread's share of --rate, requests/s. */
  rate?: number;
  pipeline: number;
  close: boolean;
  connectTimeoutMs: number;
  timeoutMs: number;
  graceMs: number;
  request: RequestBytes;
  /** ws:// runs: the upgrade and the message frames (the slots are WsSlots then). */
  ws?: WsRequest;
  liveBuffer: SharedArrayBuffer;
  tls?: BenchTls;
}

const origin = performance.timeOrigin;

export class LoopDriver implements SlotHost, WsSlotHost {
  readonly host: string;
  readonly port: number;
  readonly pipeline: number;
  readonly closeEach: boolean;
  readonly connectTimeoutMs: number;
  /** One object for the whole run: the client context is built once per thread from it. */
  readonly tls: TlsClientOptions | undefined;
  private readonly connects = new AbortController();
  readonly connectSignal: AbortSignal = this.connects.signal;
  readonly single: Uint8Array;
  readonly batch: Uint8Array;
  readonly head: boolean;
  private readonly slots: ConnectionSlot[] = [];
  private readonly parkedSlots: ConnectionSlot[] = [];
  private readonly lingeringConns = new Set<TcpConnection>();
  private readonly live: LiveRow;
  private stats!: Stats;
  private started = false;
  private readonly budget: number;
  private issued = 0;
  /** Requests taken and not yet answered or failed. */
  private outstanding = 0;
  private stopping = false;
  private stopRequested = false;
  private finished = false;
  private startMs = 0;
  /** -d: nothing is issued at or after this (performance.now() ms); Infinity with -n. */
  private deadlineMs = Infinity;
  private readonly intervalMs: number;
  /** Open loop, once stopped: how many sends the schedule had up to the stop. */
  private dueAtStop = 0;
  /** stop() is handing sends that fell due to idle connections. */
  private flushing = false;
  private rateTimer: Timer | undefined;
  private readonly timers: Timer[] = [];
  private resolveDone!: (s: StatsSnapshot) => void;
  readonly done: Promise<StatsSnapshot>;

  constructor(
    readonly loop: EventLoop,
    private readonly cfg: DriverConfig,
  ) {
    this.host = cfg.host;
    this.port = cfg.port;
    this.pipeline = cfg.pipeline;
    this.closeEach = cfg.close;
    this.connectTimeoutMs = cfg.connectTimeoutMs;
    this.tls = cfg.tls && {
      servername: cfg.tls.servername,
      rejectUnauthorized: !cfg.tls.insecure,
      alpn: ['http/1.1'],
      handshakeTimeout: cfg.connectTimeoutMs,
      ...(cfg.tls.ca !== undefined ? { ca: cfg.tls.ca } : {}),
    };
    this.single = cfg.request.single;
    this.batch = cfg.request.batch;
    this.head = cfg.request.head;
    this.budget = cfg.requests ?? Infinity;
    this.intervalMs = cfg.rate ? 1000 / cfg.rate : 0;
    this.live = new LiveRow(cfg.liveBuffer, cfg.thread);
    this.done = new Promise((r) => (this.resolveDone = r));
    // Every connect in flight listens on this one signal (-c of them at once): that is by design, not a leak.
    setMaxListeners(0, this.connectSignal);
    const ws = cfg.ws;
    for (let i = 0; i < cfg.connections; i++) this.slots.push(ws ? new WsSlot(i, this, ws) : new Slot(i, this));
  }

  get active(): boolean {
    return !this.finished;
  }

  /**
   * Starts the run. startAbsMs is the common start of all threads
   * (performance.timeOrigin + performance.now()), so their timelines line up.
   */
  start(startAbsMs: number): Promise<StatsSnapshot> {
    this.loop.assertInLoopThread();
    this.stats = new Stats(startAbsMs);
    this.started = true;
    this.startMs = Math.max(performance.now(), startAbsMs - origin);
    const c = this.cfg;
    if (c.durationMs !== undefined) {
      this.deadlineMs = this.startMs + c.durationMs;
      this.timers.push(this.loop.runAfter(Math.max(0, this.startMs + c.durationMs - performance.now()), () => this.stop()));
    }
    if (c.timeoutMs > 0) {
      const tick = Math.min(100, Math.max(5, Math.floor(c.timeoutMs / 10)));
      this.timers.push(this.loop.runEvery(tick, () => this.sweep()));
    }
    if (this.stopRequested) this.stop();
    for (const s of this.slots) s.fill();
    this.checkDone();
    return this.done;
  }

  /** Stop issuing; in-flight requests get the grace period (the deadline and Ctrl-C come here). */
  stop(): void {
    if (this.stopping || this.finished) return;
    if (!this.started) {
      this.stopRequested = true; // before start(): start() stops at once
      return;
    }
    this.stopping = true;
    const now = performance.now();
    this.stats.stopIssuingAbsMs = origin + now;
    this.rateTimer?.cancel();
    if (this.intervalMs > 0) {
      // Open loop: what the schedule called for by now. A send whose timer had not fired yet
      // (timers fire up to a tick late, so the last one often lands after the deadline) goes out
      // now on an idle connection, measured from when it was due: that is the client keeping up,
      // not falling behind. What no idle connection can take was due and is not sent.
      this.dueAtStop = Math.min(this.budget, this.scheduledBefore(now), this.scheduledBefore(this.deadlineMs, true));
      const parked = this.parkedSlots.splice(0);
      for (const s of parked) s.parked = false;
      this.flushing = true;
      for (const s of parked) s.fill();
      this.flushing = false;
      this.stats.dueNotSent = Math.max(0, this.dueAtStop - this.issued);
    }
    if (this.outstanding === 0) this.finish();
    else this.timers.push(this.loop.runAfter(this.cfg.graceMs, () => this.finish()));
  }

  /** After done: resolves once pending connects have settled (at once: finish() aborted them). */
  async dispose(): Promise<void> {
    const deadline = performance.now() + this.connectTimeoutMs + 100;
    // A Connector owns its fd until it settles; quitting the loop before would leak it.
    while (this.slots.some((s) => s.connecting) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ---- SlotHost -------------------------------------------------------------

  take(now: number): number {
    if (this.finished || this.issued >= this.budget) return -1;
    if (this.intervalMs > 0) return this.takeScheduled(now);
    // The stop timer and a response can fall due in the same tick, in either order: without
    // this, one extra request per thread goes out at the deadline.
    if (this.stopping || now >= this.deadlineMs) return -1;
    return this.issue(now, now);
  }

  /** Open loop: the next send of the schedule, if it is due. */
  private takeScheduled(now: number): number {
    const t = this.startMs + this.issued * this.intervalMs;
    if (this.stopping) return this.flushing && this.issued < this.dueAtStop ? this.issue(t, now) : -1;
    // -d covers the schedule's sends in [0, d): one due at d belongs to a longer run. One due
    // before d goes out even when its timer fired a little after d.
    if (t >= this.deadlineMs) return -1;
    if (t > now) {
      this.armRate(t, now);
      return -1;
    }
    return this.issue(t, now);
  }

  private issue(t: number, now: number): number {
    this.issued++;
    this.outstanding++;
    this.stats.requests++;
    this.live.add(Live.Requests);
    if (this.issued === this.budget) this.stats.stopIssuingAbsMs = origin + now;
    return t;
  }

  park(slot: ConnectionSlot): void {
    // Only an open-loop run has requests that become due later; otherwise nothing would wake it.
    if (this.intervalMs === 0 || slot.parked || this.stopping) return;
    slot.parked = true;
    this.parkedSlots.push(slot);
  }

  response(status: number, intendedMs: number, now: number): void {
    this.stats.response(status, now - intendedMs, origin + now);
    this.live.add(Live.Completed);
    this.settle(1);
  }

  echo(intendedMs: number, now: number): void {
    this.stats.echo(now - intendedMs, origin + now);
    this.live.add(Live.Completed);
    this.settle(1);
  }

  refused(status: number, count: number, now: number): void {
    this.stats.refused(status, count, origin + now);
    this.live.add(Live.Failed, count);
    this.settle(count);
  }

  closedWith(code: number, count: number, now: number): void {
    this.stats.closedWith(code, count, origin + now);
    this.live.add(Live.Failed, count);
    this.settle(count);
  }

  failed(kind: Failure, count: number, now: number): void {
    this.stats.fail(kind, origin + now, count);
    this.live.add(Live.Failed, count);
    this.settle(count);
  }

  connectFailed(code: string, now: number): void {
    this.stats.connectError(code, origin + now);
    this.live.add(Live.Failed);
    this.settle(1);
  }

  connected(handshakeMs?: number): void {
    this.stats.connects++;
    if (handshakeMs !== undefined && handshakeMs >= 0) this.stats.handshake(handshakeMs);
  }

  bytes(inBytes: number, outBytes: number): void {
    this.stats.bytesIn += inBytes;
    this.stats.bytesOut += outBytes;
    this.live.add(Live.BytesIn, inBytes);
  }

  lingering(conn: TcpConnection, on: boolean): void {
    if (on) this.lingeringConns.add(conn);
    else this.lingeringConns.delete(conn);
  }

  later(fn: () => void): void {
    if (!this.finished) this.loop.queueInLoop(fn);
  }

  // ---- internals ------------------------------------------------------------

  private settle(n: number): void {
    this.outstanding -= n;
    this.checkDone();
  }

  private checkDone(): void {
    if (this.finished || this.outstanding > 0) return;
    if (this.stopping || this.issued >= this.budget) this.finish();
  }

  /**
   * Open loop: how many sends the schedule has at or before `at` (strictly before
   * when `exclusive`). Computed like take() computes send times, so the two agree
   * at the boundary whatever the floating-point rounding of the interval.
   */
  private scheduledBefore(at: number, exclusive = false): number {
    if (at === Infinity) return Infinity;
    const past = (k: number) => {
      const t = this.startMs + k * this.intervalMs;
      return exclusive ? t < at : t <= at;
    };
    let k = Math.max(0, Math.floor((at - this.startMs) / this.intervalMs) - 1);
    while (k > 0 && !past(k - 1)) k--;
    while (past(k)) k++;
    return k;
  }

  private armRate(t: number, now: number): void {
    if (this.rateTimer && !this.rateTimer.cancelled) return;
    this.rateTimer = this.loop.runAfter(Math.max(0, t - now), () => {
      this.rateTimer = undefined;
      const parked = this.parkedSlots.splice(0);
      for (const s of parked) s.parked = false;
      for (const s of parked) s.fill();
    });
  }

  private sweep(): void {
    const now = performance.now();
    const limit = this.cfg.timeoutMs;
    for (const s of this.slots) {
      // sent[0] is NaN while connecting: the connect timeout covers that part.
      if (s.inFlight > 0 && now - (s.sent[0] ?? NaN) > limit) s.timedOut(now);
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.timers) t.cancel();
    this.rateTimer?.cancel();
    const now = performance.now();
    for (const s of this.slots) {
      const n = s.inFlight;
      if (n === 0) continue;
      let oldest = s.sent[0] ?? NaN;
      if (Number.isNaN(oldest)) oldest = s.intended[0] ?? now;
      let local = '(connecting)';
      if (s.conn) {
        const a = s.conn.localAddress();
        local = a ? `${a.address}:${a.port}` : '?';
      }
      this.stats.noteUnanswered({
        conn: s.conn?.id ?? 0,
        thread: this.cfg.thread,
        local,
        pending: n,
        oldestMs: Math.round((now - oldest) * 1000) / 1000,
      });
      this.outstanding -= n;
    }
    // Counted: now close everything so nothing arrives to be counted twice. Pending connects
    // too: against a full accept queue they would otherwise hold the report (and a Ctrl-C)
    // back for up to --connect-timeout.
    this.connects.abort();
    for (const s of this.slots) s.abandon();
    for (const c of this.lingeringConns) if (!c.isClosed) c.forceClose('local');
    this.lingeringConns.clear();
    if (!this.stopping) this.stats.stopIssuingAbsMs = Math.max(this.stats.stopIssuingAbsMs, this.stats.startAbsMs);
    this.resolveDone(this.stats.snapshot());
  }
}
