/**
 * Watches the accept queue(s) of the server's port while the load runs: the
 * per-listener evidence of a full backlog, which the netns-wide
 * ListenOverflows counter cannot give when anything else on the machine
 * overflows a queue at the same time. Thread: main. Owns one interval timer.
 */
import { listenersOn } from './kernel.js';

export interface QueueSample {
  /** Largest accept queue seen (summed over the port's listeners). */
  max: number;
  /** Samples in which some listener's queue was over its backlog (the kernel's "full"). */
  full: number;
  samples: number;
}

export class QueueSampler {
  private readonly timer: NodeJS.Timeout;
  private readonly s: QueueSample = { max: 0, full: 0, samples: 0 };
  private final: QueueSample | null = null;

  constructor(
    readonly port: number,
    intervalMs = 10,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    let ls;
    try {
      ls = listenersOn(this.port);
    } catch {
      return; // inet_diag unavailable: the report shows 0 samples
    }
    if (ls.length === 0) return;
    const queued = ls.reduce((n, l) => n + l.queued, 0);
    this.s.samples++;
    this.s.max = Math.max(this.s.max, queued);
    // sk_acceptq_is_full() is queue > backlog: a queue of backlog+1 is full.
    if (ls.some((l) => l.queued > l.backlog)) this.s.full++;
  }

  /** Stops sampling (after one last sample); later calls return the same result. */
  stop(): QueueSample {
    if (this.final) return this.final;
    clearInterval(this.timer);
    this.sample();
    this.final = { ...this.s };
    return this.final;
  }
}
