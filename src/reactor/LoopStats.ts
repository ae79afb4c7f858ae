/**
 * Per-loop counters in shared memory. Thread: written only by its own loop,
 * read by any thread (the /stats route, the CLI, tests). Owns one slab of a
 * SharedArrayBuffer that every loop thread of a server maps.
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
] as const;

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
}

export class LoopStats {
  readonly c: Float64Array;

  constructor(
    readonly index = 0,
    shared?: SharedArrayBuffer,
  ) {
    // Without a shared buffer the loop gets a slab of its own; index is then only a label.
    const sab = shared ?? new SharedArrayBuffer(STAT_FIELDS.length * 8);
    const slab = shared ? index : 0;
    this.c = new Float64Array(sab, slab * STAT_FIELDS.length * 8, STAT_FIELDS.length);
  }

  static allocate(loops: number): SharedArrayBuffer {
    return new SharedArrayBuffer(loops * STAT_FIELDS.length * 8);
  }

  static readAll(shared: SharedArrayBuffer): LoopStatsSnapshot[] {
    const n = shared.byteLength / (STAT_FIELDS.length * 8);
    const out: LoopStatsSnapshot[] = [];
    for (let i = 0; i < n; i++) out.push(new LoopStats(i, shared).snapshot());
    return out;
  }

  closed(reason: CloseReason): void {
    this.c[CLOSE_FIELD[reason]]!++;
    this.c[S.active]!--;
  }

  snapshot(): LoopStatsSnapshot {
    const c = this.c;
    return {
      loop: this.index,
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
    };
  }
}
