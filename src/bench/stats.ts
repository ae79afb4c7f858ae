/**
 * What happened to every request of a run. Thread: the loop that records into
 * it (one per thread); snapshots travel to the main thread as plain objects
 * and are merged there. Owns the HDR histogram and the counters.
 *
 * Invariant the reports rely on: every request that was attempted ends in
 * exactly one place, so requests = completed + sum(failures) + unanswered.
 * A connect that fails counts as one failed request (the one it was for).
 */
import { build, encodeIntoCompressedBase64, decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** `status`: a WebSocket handshake the server refused (its status is in `status`). */
export const FAILURES = ['connectRefused', 'connectTimeout', 'connectError', 'status', 'reset', 'closed', 'timeout', 'malformed'] as const;
export type Failure = (typeof FAILURES)[number];
export type FailureCounts = Record<Failure, number>;

/** Latency is recorded in microseconds up to one hour. */
const HIGHEST_US = 3_600_000_000;
/** Timeline slot width: fine enough for short -n runs, cheap for long ones. */
export const SLOT_MS = 100;
/** Latency chart bins: 4 per power of two of microseconds. */
export const BINS_PER_OCTAVE = 4;
const BIN_COUNT = 33 * BINS_PER_OCTAVE;

export interface UnansweredConnection {
  /** The reactor's connection id (unique in the process). */
  conn: number;
  thread: number;
  local: string;
  pending: number;
  /** How long the oldest of them had waited when the run ended. */
  oldestMs: number;
}

/** A plain, structured-clonable copy of a Stats (for postMessage and merging). */
export interface StatsSnapshot {
  requests: number;
  completed: number;
  failures: FailureCounts;
  connectErrorCodes: Record<string, number>;
  /** WebSocket: the close codes servers sent (1005 for a close frame without one). */
  closeCodes: Record<string, number>;
  status: Record<string, number>;
  unanswered: number;
  unansweredConnections: UnansweredConnection[];
  dueNotSent: number;
  connects: number;
  /** https: handshakes completed, their total and longest time (ms). */
  handshakes: number;
  handshakeMsSum: number;
  handshakeMsMax: number;
  bytesIn: number;
  bytesOut: number;
  histogram: string;
  bins: number[];
  timelineCompleted: number[];
  timelineFailed: number[];
  startAbsMs: number;
  lastOutcomeAbsMs: number;
  stopIssuingAbsMs: number;
}

export function emptyFailures(): FailureCounts {
  return { connectRefused: 0, connectTimeout: 0, connectError: 0, status: 0, reset: 0, closed: 0, timeout: 0, malformed: 0 };
}

function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

export function binOf(us: number): number {
  if (us < 1) return 0;
  return Math.min(BIN_COUNT - 1, Math.floor(Math.log2(us) * BINS_PER_OCTAVE) + 1);
}

/** Lower edge, in microseconds, of a latency bin. */
export function binLowerUs(bin: number): number {
  return bin === 0 ? 0 : 2 ** ((bin - 1) / BINS_PER_OCTAVE);
}

export class Stats {
  requests = 0;
  completed = 0;
  unanswered = 0;
  /** --rate only: requests the schedule called for that were never sent (not in `requests`). */
  dueNotSent = 0;
  connects = 0;
  handshakes = 0;
  handshakeMsSum = 0;
  handshakeMsMax = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly failures = emptyFailures();
  readonly connectErrorCodes: Record<string, number> = {};
  readonly closeCodes: Record<string, number> = {};
  readonly status = new Map<number, number>();
  readonly unansweredConnections: UnansweredConnection[] = [];
  private readonly hist = newHistogram();
  private readonly bins = new Float64Array(BIN_COUNT);
  private readonly timelineCompleted: number[] = [];
  private readonly timelineFailed: number[] = [];
  lastOutcomeAbsMs: number;
  stopIssuingAbsMs: number;

  /** startAbsMs: the run's common start (performance.timeOrigin + now), shared by all threads. */
  constructor(readonly startAbsMs: number) {
    this.lastOutcomeAbsMs = startAbsMs;
    this.stopIssuingAbsMs = startAbsMs;
  }

  private slot(absMs: number): number {
    return Math.max(0, Math.floor((absMs - this.startAbsMs) / SLOT_MS));
  }

  private bump(series: number[], absMs: number): void {
    const s = this.slot(absMs);
    while (series.length <= s) series.push(0);
    series[s] = (series[s] ?? 0) + 1;
    if (absMs > this.lastOutcomeAbsMs) this.lastOutcomeAbsMs = absMs;
  }

  /** A response arrived; latency in ms (fractional). */
  response(status: number, latencyMs: number, absMs: number): void {
    this.status.set(status, (this.status.get(status) ?? 0) + 1);
    this.echo(latencyMs, absMs);
  }

  /** A WebSocket message came back (it has no status). */
  echo(latencyMs: number, absMs: number): void {
    this.completed++;
    const us = Math.max(0, Math.round(latencyMs * 1000));
    this.hist.recordValue(Math.min(us, HIGHEST_US));
    const b = binOf(us);
    this.bins[b] = (this.bins[b] ?? 0) + 1;
    this.bump(this.timelineCompleted, absMs);
  }

  fail(kind: Failure, absMs: number, count = 1): void {
    this.failures[kind] += count;
    for (let i = 0; i < count; i++) this.bump(this.timelineFailed, absMs);
  }

  /** A connect failed with an errno outside the named buckets (EADDRNOTAVAIL when ports run out, ...). */
  connectError(code: string, absMs: number): void {
    this.connectErrorCodes[code] = (this.connectErrorCodes[code] ?? 0) + 1;
    this.fail('connectError', absMs);
  }

  handshake(ms: number): void {
    this.handshakes++;
    this.handshakeMsSum += ms;
    if (ms > this.handshakeMsMax) this.handshakeMsMax = ms;
  }

  /** A WebSocket handshake answered with `status` instead of 101: `count` messages failed with it. */
  refused(status: number, count: number, absMs: number): void {
    this.status.set(status, (this.status.get(status) ?? 0) + 1);
    this.fail('status', absMs, count);
  }

  /** The server closed a WebSocket with `code`: `count` messages were in flight. */
  closedWith(code: number, count: number, absMs: number): void {
    this.closeCodes[code] = (this.closeCodes[code] ?? 0) + 1;
    this.fail('closed', absMs, count);
  }

  noteUnanswered(c: UnansweredConnection): void {
    this.unanswered += c.pending;
    this.unansweredConnections.push(c);
  }

  snapshot(): StatsSnapshot {
    return {
      requests: this.requests,
      completed: this.completed,
      failures: { ...this.failures },
      connectErrorCodes: { ...this.connectErrorCodes },
      closeCodes: { ...this.closeCodes },
      status: Object.fromEntries([...this.status].map(([k, v]) => [String(k), v])),
      unanswered: this.unanswered,
      unansweredConnections: [...this.unansweredConnections],
      dueNotSent: this.dueNotSent,
      connects: this.connects,
      handshakes: this.handshakes,
      handshakeMsSum: this.handshakeMsSum,
      handshakeMsMax: this.handshakeMsMax,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      histogram: encodeIntoCompressedBase64(this.hist),
      bins: Array.from(this.bins),
      timelineCompleted: [...this.timelineCompleted],
      timelineFailed: [...this.timelineFailed],
      startAbsMs: this.startAbsMs,
      lastOutcomeAbsMs: this.lastOutcomeAbsMs,
      stopIssuingAbsMs: this.stopIssuingAbsMs,
    };
  }
}

function addSeries(into: number[], from: number[]): void {
  from.forEach((v, i) => (into[i] = (into[i] ?? 0) + v));
}

/** Merged view of one or more snapshots, with the histogram decoded for percentiles. */
export interface MergedStats extends Omit<StatsSnapshot, 'histogram'> {
  histogram: Histogram;
}

export function mergeSnapshots(snaps: StatsSnapshot[]): MergedStats {
  if (snaps.length === 0) throw new Error('mergeSnapshots: nothing to merge');
  const hist = newHistogram();
  const out: MergedStats = {
    requests: 0,
    completed: 0,
    failures: emptyFailures(),
    connectErrorCodes: {},
    closeCodes: {},
    status: {},
    unanswered: 0,
    unansweredConnections: [],
    dueNotSent: 0,
    connects: 0,
    handshakes: 0,
    handshakeMsSum: 0,
    handshakeMsMax: 0,
    bytesIn: 0,
    bytesOut: 0,
    histogram: hist,
    bins: new Array<number>(BIN_COUNT).fill(0),
    timelineCompleted: [],
    timelineFailed: [],
    startAbsMs: Math.min(...snaps.map((s) => s.startAbsMs)),
    lastOutcomeAbsMs: Math.max(...snaps.map((s) => s.lastOutcomeAbsMs)),
    stopIssuingAbsMs: Math.max(...snaps.map((s) => s.stopIssuingAbsMs)),
  };
  for (const s of snaps) {
    out.requests += s.requests;
    out.completed += s.completed;
    out.unanswered += s.unanswered;
    out.connects += s.connects;
    out.handshakes += s.handshakes;
    out.handshakeMsSum += s.handshakeMsSum;
    out.handshakeMsMax = Math.max(out.handshakeMsMax, s.handshakeMsMax);
    out.dueNotSent += s.dueNotSent;
    out.bytesIn += s.bytesIn;
    out.bytesOut += s.bytesOut;
    for (const k of FAILURES) out.failures[k] += s.failures[k];
    for (const [k, v] of Object.entries(s.connectErrorCodes)) out.connectErrorCodes[k] = (out.connectErrorCodes[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.closeCodes)) out.closeCodes[k] = (out.closeCodes[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.status)) out.status[k] = (out.status[k] ?? 0) + v;
    out.unansweredConnections.push(...s.unansweredConnections);
    addSeries(out.bins, s.bins);
    addSeries(out.timelineCompleted, s.timelineCompleted);
    addSeries(out.timelineFailed, s.timelineFailed);
    hist.add(decodeFromCompressedBase64(s.histogram));
  }
  return out;
}
