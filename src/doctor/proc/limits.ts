/** Parser for /proc/PID/limits (fixed-width columns; "unlimited" is Infinity). */
export interface Limit {
  soft: number;
  hard: number;
  units: string;
}

export function parseLimits(text: string): Record<string, Limit> {
  const out: Record<string, Limit> = {};
  for (const line of text.split('\n')) {
    // Names contain spaces; the two values and the unit are the last tokens.
    const m = /^(.+?)\s{2,}(\d+|unlimited)\s+(\d+|unlimited)\s*(\S*)\s*$/.exec(line);
    if (!m) continue;
    const [, name = '', soft = '', hard = '', units = ''] = m;
    const val = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
    out[name.trim()] = { soft: val(soft), hard: val(hard), units };
  }
  return out;
}

export function nofile(limits: Record<string, Limit>): Limit | null {
  return limits['Max open files'] ?? null;
}
