/**
 * Per-worker counters and the stop flag of a naive server, in one
 * SharedArrayBuffer. Thread: any; each worker writes only its own slab with
 * Atomics, the server's main thread reads them. Owns nothing but the layout.
 */

export const FIELDS = ['accepted', 'wakeups', 'eagain', 'errors', 'tid'] as const;
export type Field = (typeof FIELDS)[number];
const INDEX: Record<Field, number> = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<Field, number>;

/** Slot 0 of the buffer is the stop flag; worker slabs follow. */
const HEADER = 1;

export interface WorkerCounts {
  worker: number;
  tid: number;
  accepted: number;
  wakeups: number;
  /** Wakeups whose accept() found the queue empty (the field report's "shit xxx" lines). */
  eagain: number;
  errors: number;
}

export class Counters {
  readonly view: Int32Array;

  constructor(
    readonly workers: number,
    readonly sab = new SharedArrayBuffer((HEADER + workers * FIELDS.length) * 4),
  ) {
    this.view = new Int32Array(sab);
  }

  add(worker: number, field: Field, n = 1): void {
    Atomics.add(this.view, HEADER + worker * FIELDS.length + INDEX[field], n);
  }

  set(worker: number, field: Field, v: number): void {
    Atomics.store(this.view, HEADER + worker * FIELDS.length + INDEX[field], v);
  }

  get(worker: number, field: Field): number {
    return Atomics.load(this.view, HEADER + worker * FIELDS.length + INDEX[field]);
  }

  requestStop(): void {
    Atomics.store(this.view, 0, 1);
  }

  get stopRequested(): boolean {
    return Atomics.load(this.view, 0) !== 0;
  }

  snapshot(): WorkerCounts[] {
    return Array.from({ length: this.workers }, (_, w) => ({
      worker: w,
      tid: this.get(w, 'tid'),
      accepted: this.get(w, 'accepted'),
      wakeups: this.get(w, 'wakeups'),
      eagain: this.get(w, 'eagain'),
      errors: this.get(w, 'errors'),
    }));
  }
}
