/**
 * The finished run as one plain object: what --json prints and what the human
 * and HTML reports render. Thread: main. Owns nothing.
 */
import type { BenchOptions } from './options.js';
import { binLowerUs, SLOT_MS, type FailureCounts, type MergedStats, type UnansweredConnection } from './stats.js';

export interface LatencySummary {
  min: number;
  mean: number;
  stdev: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface BenchResult {
  url: string;
  method: string;
  connections: number;
  threads: number;
  pipeline: number;
  mode: 'keep-alive' | 'close' | 'websocket';
  rate: number | null;
  /** --rate only: requests the schedule called for that were never sent (not counted in `requests`). */
  dueNotSent: number;
  /** Stopped early by Ctrl-C. */
  interrupted: boolean;
  elapsedMs: number;
  /** Requests attempted (a failed connect counts as one). */
  requests: number;
  /** Responses received, any status. */
  completed: number;
  /** Completed responses per second. */
  rps: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes read per second. */
  throughput: number;
  connects: number;
  /** https: TLS handshakes (from TCP connected to handshake done); null over http. */
  tls: { handshakes: number; meanMs: number; maxMs: number } | null;
  latencyMs: LatencySummary;
  errors: FailureCounts & { non2xx: number; unanswered: number };
  connectErrorCodes: Record<string, number>;
  /** WebSocket: close codes the server sent, with how many connections it closed with each. */
  closeCodes: Record<string, number>;
  /** Response statuses; for ws://, the statuses of refused handshakes. */
  status: Record<string, number>;
  unanswered: { count: number; connections: UnansweredConnection[] };
  timeline: { slotMs: number; completed: number[]; failed: number[] };
  latencyBins: Array<{ fromUs: number; toUs: number; count: number }>;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function buildResult(o: BenchOptions, m: MergedStats, interrupted: boolean): BenchResult {
  const end = Math.max(m.lastOutcomeAbsMs, m.stopIssuingAbsMs);
  const elapsedMs = Math.max(end - m.startAbsMs, 0.001);
  const h = m.histogram;
  const ms = (us: number) => round3(us / 1000);
  const any = h.totalCount > 0;
  const latencyMs: LatencySummary = {
    min: any ? ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue) : 0,
    mean: any ? ms(h.mean) : 0,
    stdev: any ? ms(h.stdDeviation) : 0,
    p50: any ? ms(h.getValueAtPercentile(50)) : 0,
    p75: any ? ms(h.getValueAtPercentile(75)) : 0,
    p90: any ? ms(h.getValueAtPercentile(90)) : 0,
    p99: any ? ms(h.getValueAtPercentile(99)) : 0,
    p999: any ? ms(h.getValueAtPercentile(99.9)) : 0,
    max: any ? ms(h.maxValue) : 0,
  };
  let non2xx = 0;
  // A refused WebSocket handshake is already counted, per message, under errors.status.
  if (!o.ws) for (const [code, n] of Object.entries(m.status)) if (!code.startsWith('2')) non2xx += n;

  const latencyBins: BenchResult['latencyBins'] = [];
  const first = m.bins.findIndex((c) => c > 0);
  if (first >= 0) {
    let last = m.bins.length - 1;
    while (m.bins[last] === 0) last--;
    for (let b = first; b <= last; b++) {
      latencyBins.push({ fromUs: round3(binLowerUs(b)), toUs: round3(binLowerUs(b + 1)), count: m.bins[b] ?? 0 });
    }
  }

  const errors = { ...m.failures, non2xx, unanswered: m.unanswered };
  return {
    url: o.target.href,
    method: o.method,
    connections: o.connections,
    threads: o.threads,
    pipeline: o.pipeline,
    mode: o.ws ? 'websocket' : o.close ? 'close' : 'keep-alive',
    rate: o.rate ?? null,
    dueNotSent: m.dueNotSent,
    interrupted,
    elapsedMs: round3(elapsedMs),
    requests: m.requests,
    completed: m.completed,
    rps: round3((m.completed * 1000) / elapsedMs),
    bytesIn: m.bytesIn,
    bytesOut: m.bytesOut,
    throughput: Math.round((m.bytesIn * 1000) / elapsedMs),
    connects: m.connects,
    tls: o.target.tls
      ? { handshakes: m.handshakes, meanMs: m.handshakes > 0 ? round3(m.handshakeMsSum / m.handshakes) : 0, maxMs: round3(m.handshakeMsMax) }
      : null,
    latencyMs,
    errors,
    connectErrorCodes: m.connectErrorCodes,
    closeCodes: m.closeCodes,
    status: m.status,
    unanswered: {
      count: m.unanswered,
      connections: [...m.unansweredConnections].sort((a, b) => b.pending - a.pending || a.conn - b.conn),
    },
    timeline: { slotMs: SLOT_MS, completed: m.timelineCompleted, failed: m.timelineFailed },
    latencyBins,
  };
}

/** Requests per second over time at a resolution that suits the run's length. */
export function rpsSeries(r: BenchResult): { stepMs: number; rps: number[]; failed: number[] } {
  const n = Math.max(r.timeline.completed.length, r.timeline.failed.length);
  const per = r.elapsedMs >= 5000 ? Math.round(1000 / r.timeline.slotMs) : 1;
  const stepMs = per * r.timeline.slotMs;
  const rps: number[] = [];
  const failed: number[] = [];
  for (let i = 0; i < n; i += per) {
    let c = 0;
    let f = 0;
    for (let j = i; j < i + per; j++) {
      c += r.timeline.completed[j] ?? 0;
      f += r.timeline.failed[j] ?? 0;
    }
    // The last step is usually cut short by the end of the run: rate it over the time it
    // covered, and leave out a sliver (it would plot as a misleading drop to zero).
    const start = (i / per) * stepMs;
    const covered = Math.min(stepMs, Math.max(r.elapsedMs - start, 0));
    if (rps.length > 0 && covered < stepMs / 2) break;
    const span = covered > 0 ? covered : stepMs;
    rps.push((c * 1000) / span);
    failed.push((f * 1000) / span);
  }
  return { stepMs, rps, failed };
}
