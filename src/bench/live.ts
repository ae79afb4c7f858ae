/**
 * Running totals for the progress line, in a SharedArrayBuffer: each loop
 * thread writes its own row, the main thread reads all rows. Thread: any.
 * Owns the shared memory. Plain (non-atomic) float writes are fine here: a
 * progress line that is one increment stale is still a true progress line.
 */
export const enum Live {
  Requests,
  Completed,
  Failed,
  BytesIn,
  Width,
}

export class LiveCounters {
  readonly rows: Float64Array;

  constructor(
    readonly threads: number,
    readonly sab: SharedArrayBuffer = new SharedArrayBuffer(threads * Live.Width * 8),
  ) {
    this.rows = new Float64Array(sab);
  }

  total(): { requests: number; completed: number; failed: number; bytesIn: number } {
    const sum = (field: Live): number => {
      let n = 0;
      for (let i = field; i < this.rows.length; i += Live.Width) n += this.rows[i] ?? 0;
      return n;
    };
    return { requests: sum(Live.Requests), completed: sum(Live.Completed), failed: sum(Live.Failed), bytesIn: sum(Live.BytesIn) };
  }
}

/** The row of the live counters one loop thread writes. Thread: that loop's. Owns nothing (a view of the shared memory). */
export class LiveRow {
  private readonly cells: Float64Array;

  constructor(sab: SharedArrayBuffer, thread: number) {
    this.cells = new Float64Array(sab, thread * Live.Width * 8, Live.Width);
  }

  add(field: Live, n = 1): void {
    this.cells[field] = (this.cells[field] ?? 0) + n;
  }
}
