/**
 * The one-line progress display while a run is going. Thread: main. Owns its
 * interval timer. Only used when stdout is a terminal: a progress line in a
 * pipe or a --json capture is noise.
 */
import type { LiveCounters } from './live.js';
import { formatBytes } from '../cli/format.js';

export interface ProgressTarget {
  write(s: string): unknown;
  columns?: number;
}

export function progressLine(
  elapsedMs: number,
  totalMs: number | undefined,
  totalRequests: number | undefined,
  now: { requests: number; completed: number; failed: number; bytesIn: number },
  lastCompleted: number,
  intervalMs: number,
): string {
  const rps = ((now.completed - lastCompleted) * 1000) / intervalMs;
  const pct =
    totalRequests !== undefined
      ? (100 * (now.completed + now.failed)) / totalRequests
      : totalMs !== undefined
        ? (100 * elapsedMs) / totalMs
        : undefined;
  return (
    `  ${(elapsedMs / 1000).toFixed(1)}s` +
    (pct !== undefined ? ` ${Math.min(100, pct).toFixed(0).padStart(3)}%` : '') +
    `  ${Math.round(now.completed).toLocaleString('en-US')} answered` +
    `  ${Math.round(rps).toLocaleString('en-US')} req/s` +
    `  ${Math.round(now.failed).toLocaleString('en-US')} failed` +
    `  ${formatBytes(now.bytesIn)} read`
  );
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastCompleted = 0;
  private readonly started = performance.now();
  private shown = false;

  constructor(
    private readonly live: LiveCounters,
    private readonly out: ProgressTarget,
    private readonly totalMs: number | undefined,
    private readonly totalRequests: number | undefined,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    const now = this.live.total();
    let line = progressLine(
      performance.now() - this.started,
      this.totalMs,
      this.totalRequests,
      now,
      this.lastCompleted,
      this.intervalMs,
    );
    this.lastCompleted = now.completed;
    const cols = this.out.columns ?? 80;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.out.write(`\r\x1b[2K${line}`);
    this.shown = true;
  }

  /** Stop and erase the line so the summary starts on a clean line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.shown) this.out.write('\r\x1b[2K');
  }
}
