/**
 * Per-loop counters in shared memory. Thread: written only by its own loop,
 * read by any thread (the /stats route, /metrics, the CLI, tests). Owns one
 * slab of a SharedArrayBuffer that every loop thread of a server maps.
 *
 * A slab is the named counters below, then the request-duration histogram
 * (one count per bucket of DURATION_BUCKETS, and one for slower requests).
 * Nothing per request crosses threads: a scrape reads the slabs.
 */
export const STAT_FIELDS = [
  'accepted',
  'active',
  'requests',
  'bytesIn',
  'bytesOut',
  'acceptWakeups',
  'acceptEmptyWakeups',
  'shed',
  'closedPeer',
  'closedLocal',
  'closedReset',
  'closedError',
  'closedTimeout',
  'closedShutdown',
  /** Connections closed at the PROXY protocol gate: invalid, missing or late header. */
  'proxyRejected',
  /** HTTP responses by status class. */
  'responses1xx',
  'responses2xx',
  'responses3xx',
  'responses4xx',
  'responses5xx',
  /** Sum of request durations, seconds (the histogram's _sum). */
  'requestSeconds',
  /** TLS handshakes completed, and failed (an error, a timeout or the connection gone first). */
  'tlsHandshakes',
  'tlsHandshakeErrors',
  /** WebSocket data messages received (whole messages), and queued to send (pub/sub: one per subscriber). */
  'wsMessagesIn',
  'wsMessagesOut',
  /** WebSocket connections open now (a gauge, like active). */
  'wsOpen',
] as const;

/** Upper bounds (seconds) of the request-duration histogram's buckets. */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DURATION_BASE = STAT_FIELDS.length;
/** Float64 slots per loop: the named counters, then a count per bucket plus one for +Inf. */
const SLAB = STAT_FIELDS.length + DURATION_BUCKETS.length + 1;

export type StatField = (typeof STAT_FIELDS)[number];
export const S: { readonly [K in StatField]: number } = Object.fromEntries(
  STAT_FIELDS.map((f, i) => [f, i]),
) as { [K in StatField]: number };

export type CloseReason = 'peer' | 'local' | 'reset' | 'error' | 'timeout' | 'shutdown';

const CLOSE_FIELD: Record<CloseReason, number> = {
  peer: S.closedPeer,
  local: S.closedLocal,
  reset: S.closedReset,
  error: S.closedError,
  timeout: S.closedTimeout,
  shutdown: S.closedShutdown,
};

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export interface LoopStatsSnapshot {
  loop: number;
  accepted: number;
  active: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  acceptWakeups: number;
  acceptEmptyWakeups: number;
  shed: number;
  closed: Record<CloseReason, number>;
  proxyRejected: number;
  responses: Record<StatusClass, number>;
  /** Request durations: the sum (seconds) and a count per DURATION_BUCKETS bucket, the last for slower ones (not cumulative). */
  requestSeconds: { sum: number; buckets: number[] };
  tlsHandshakes: number;
  tlsHandshakeErrors: number;
  wsMessagesIn: number;
  wsMessagesOut: number;
  wsOpen: number;
}

export class LoopStats {
  readonly c: Float64Array;

  constructor(
    readonly index = 0,
    shared?: SharedArrayBuffer,
  ) {
    // Without a shared buffer the loop gets a slab of its own; index is then only a label.
    const sab = shared ?? new SharedArrayBuffer(SLAB * 8);
    const slab = shared ? index : 0;
    this.c = new Float64Array(sab, slab * SLAB * 8, SLAB);
  }

  static allocate(loops: number): SharedArrayBuffer {
    return new SharedArrayBuffer(loops * SLAB * 8);
  }

  /**
   * Every loop's counters. Given several buffers (the generations of a
   * reloading server), loop i's counters are the sum of slab i of each.
   */
  static readAll(shared: SharedArrayBuffer | readonly SharedArrayBuffer[]): LoopStatsSnapshot[] {
    const sabs = shared instanceof SharedArrayBuffer ? [shared] : shared;
    if (sabs.length === 1) {
      const only = sabs[0]!;
      return Array.from({ length: only.byteLength / (SLAB * 8) }, (_, i) => new LoopStats(i, only).snapshot());
    }
    const n = Math.max(0, ...sabs.map((s) => s.byteLength / (SLAB * 8)));
    const out: LoopStatsSnapshot[] = [];
    const sum = new Float64Array(SLAB);
    for (let i = 0; i < n; i++) {
      sum.fill(0);
      for (const sab of sabs) {
        if ((i + 1) * SLAB * 8 > sab.byteLength) continue;
        const c = new Float64Array(sab, i * SLAB * 8, SLAB);
        for (let j = 0; j < SLAB; j++) sum[j]! += c[j]!;
      }
      out.push(snapshotOf(i, sum));
    }
    return out;
  }

  closed(reason: CloseReason): void {
    this.c[CLOSE_FIELD[reason]]!++;
    this.c[S.active]!--;
  }

  /** One HTTP response sent: its status class and how long its request took. */
  response(status: number, seconds: number): void {
    const c = this.c;
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) c[S.responses1xx + cls - 1]!++;
    c[S.requestSeconds]! += seconds;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    c[DURATION_BASE + i]!++;
  }

  /** A TLS handshake ended: completed or not. */
  tlsHandshake(ok: boolean): void {
    this.c[ok ? S.tlsHandshakes : S.tlsHandshakeErrors]!++;
  }

  snapshot(): LoopStatsSnapshot {
    return snapshotOf(this.index, this.c);
  }
}

/** The named counters of one slab (or of a sum of slabs). */
function snapshotOf(index: number, c: Float64Array): LoopStatsSnapshot {
  return {
    loop: index,
    accepted: c[S.accepted]!,
    active: c[S.active]!,
    requests: c[S.requests]!,
    bytesIn: c[S.bytesIn]!,
    bytesOut: c[S.bytesOut]!,
    acceptWakeups: c[S.acceptWakeups]!,
    acceptEmptyWakeups: c[S.acceptEmptyWakeups]!,
    shed: c[S.shed]!,
    closed: {
      peer: c[S.closedPeer]!,
      local: c[S.closedLocal]!,
      reset: c[S.closedReset]!,
      error: c[S.closedError]!,
      timeout: c[S.closedTimeout]!,
      shutdown: c[S.closedShutdown]!,
    },
    proxyRejected: c[S.proxyRejected]!,
    responses: {
      '1xx': c[S.responses1xx]!,
      '2xx': c[S.responses2xx]!,
      '3xx': c[S.responses3xx]!,
      '4xx': c[S.responses4xx]!,
      '5xx': c[S.responses5xx]!,
    },
    requestSeconds: { sum: c[S.requestSeconds]!, buckets: Array.from(c.subarray(DURATION_BASE, SLAB)) },
    tlsHandshakes: c[S.tlsHandshakes]!,
    tlsHandshakeErrors: c[S.tlsHandshakeErrors]!,
    wsMessagesIn: c[S.wsMessagesIn]!,
    wsMessagesOut: c[S.wsMessagesOut]!,
    wsOpen: c[S.wsOpen]!,
  };
}
