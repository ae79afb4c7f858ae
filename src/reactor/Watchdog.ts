/**
 * A lazily re-armed deadline: fires when `last()` is older than `ms`.
 * Thread: its loop's. Owns one timer at a time. Activity only updates a
 * timestamp (no timer churn per byte); the timer re-arms itself for the
 * remaining time when it wakes early.
 */
import type { EventLoop } from './EventLoop.js';
import type { Timer } from './TimerQueue.js';

export class Watchdog {
  private timer: Timer | undefined;

  constructor(
    private readonly loop: EventLoop,
    readonly ms: number,
    private readonly last: () => number,
    private readonly expired: () => void,
    /** Whether the watchdog applies right now (e.g. only while output is pending). */
    private readonly active: () => boolean = () => true,
  ) {
    this.arm(ms);
  }

  private arm(delay: number): void {
    this.timer = this.loop.runAfter(delay, () => {
      this.timer = undefined;
      const quiet = this.loop.now() - this.last();
      if (this.active() && quiet >= this.ms) this.expired();
      else this.arm(this.active() ? this.ms - quiet : this.ms);
    });
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
