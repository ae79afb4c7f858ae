/**
 * The Date header, formatted once per second instead of once per response.
 * Thread: any (module state is per thread). Owns the cached line.
 */
let second = -1;
let line = '';

/** "Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n" for the current second. */
export function dateLine(nowMs: number = Date.now()): string {
  const s = Math.floor(nowMs / 1000);
  if (s !== second) {
    second = s;
    line = `Date: ${new Date(s * 1000).toUTCString()}\r\n`;
  }
  return line;
}
