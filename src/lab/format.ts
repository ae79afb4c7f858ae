/** Number and name formatting shared by the verdicts and reports. Thread: any. Owns nothing. */

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export const pct = (part: number, whole: number): string =>
  whole > 0 && part > 0 ? `${((100 * part) / whole).toFixed(part * 1000 < whole ? 2 : 1)}%` : '0%';

/** edgeloop runs once per load, the naive servers once each: name the row accordingly. */
export const rowName = (r: { name: string; load: string }): string => (r.name === 'edgeloop' ? `edgeloop (${r.load})` : r.name);

/** Milliseconds at a precision that suits their size. */
export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
