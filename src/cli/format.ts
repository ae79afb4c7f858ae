/**
 * Number and text formatting shared by every command's output and reports
 * (bench, lab, doctor, serve). Thread: any. Owns nothing.
 */

/** A whole number with thousands separators: 12,345. */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** "1 loop", "2 loops": a count and its noun, in English. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${int(n)} ${n === 1 ? one : many}`;

/** part of whole as a percentage; small non-zero shares keep two decimals. */
export const pct = (part: number, whole: number): string =>
  whole > 0 && part > 0 ? `${((100 * part) / whole).toFixed(part * 1000 < whole ? 2 : 1)}%` : '0%';

/** Milliseconds at a precision that suits their size. */
export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe inside HTML elements and quoted attributes. */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);

/** Bytes in binary units: 512 B, 1.50 KiB, 3.00 MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n.toFixed(u === 0 ? 0 : 2)} ${units[u]}`;
}

/** A duration given in ms, with the unit that suits it: 250us, 1.50ms, 120ms, 2.50s. */
export function formatMs(ms: number): string {
  if (ms === 0) return '0';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms >= 100) return `${ms.toFixed(0)}ms`;
  if (ms >= 1) return `${ms.toFixed(2)}ms`;
  return `${(ms * 1000).toFixed(0)}us`;
}

/** Milliseconds the way a duration flag is written: 500ms, 5s, 2m, 1h. */
export function durationArg(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Bytes the way a size flag is written: 512, 16k, 16m. */
export function sizeArg(bytes: number): string {
  for (const [unit, size] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes > 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
