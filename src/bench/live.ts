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

  /** The row one thread writes. */
  row(thread: number): Float64Array {
    return this.rows.subarray(thread * Live.Width, (thread + 1) * Live.Width);
  }

  total(): { requests: number; completed: number; failed: number; bytesIn: number } {
    const t = { requests: 0, completed: 0, failed: 0, bytesIn: 0 };
    for (let i = 0; i < this.threads; i++) {
      const o = i * Live.Width;
      t.requests += this.rows[o + Live.Requests]!;
      t.completed += this.rows[o + Live.Completed]!;
      t.failed += this.rows[o + Live.Failed]!;
      t.bytesIn += this.rows[o + Live.BytesIn]!;
    }
    return t;
  }
}
