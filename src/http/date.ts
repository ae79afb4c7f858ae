/**
 * The Date header, formatted once per second by a timer instead of once per
 * response (no clock read on the hot path). Thread: any; module state and
 * timer are per thread (each loop thread loads its own copy).
 * Owns the cached line and its unref'd timer.
 */
let line = '';
let timer: NodeJS.Timeout | null = null;

function format(ms: number): string {
  return `Date: ${new Date(ms).toUTCString()}\r\n`;
}

function tick(): void {
  const now = Date.now();
  line = format(now);
  // Re-arm just after the next second starts, so the header is never more than a few ms stale.
  timer = setTimeout(tick, 1001 - (now % 1000));
  timer.unref();
}

/** "Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n" for the current second. */
export function dateLine(): string {
  if (timer === null) tick();
  return line;
}
