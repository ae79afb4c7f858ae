/**
 * Parser for /proc/PID/net/netstat and /proc/net/snmp: pairs of lines
 * "Section: Name1 Name2 ..." / "Section: v1 v2 ...". Counters are per network
 * namespace, so read them through the target's /proc/PID/net.
 */
export type Counters = Record<string, Record<string, number>>;

export function parseNetstat(text: string): Counters {
  const out: Counters = {};
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i + 1 < lines.length; i++) {
    const [section, ...names] = (lines[i] ?? '').split(/\s+/).filter(Boolean);
    const [valSection, ...vals] = (lines[i + 1] ?? '').split(/\s+/).filter(Boolean);
    if (!section?.endsWith(':') || valSection !== section) continue;
    // A header line is one whose second token is not a number.
    if (names[0] === undefined || /^-?\d+$/.test(names[0])) continue;
    const rec: Record<string, number> = (out[section.slice(0, -1)] ??= {});
    names.forEach((name, k) => {
      const v = Number(vals[k]);
      if (vals[k] !== undefined && Number.isFinite(v)) rec[name] = v;
    });
    i++;
  }
  return out;
}

/** b - a for one counter; null when either side lacks it (older kernels). */
export function counterDelta(a: Counters, b: Counters, section: string, name: string): number | null {
  const x = a[section]?.[name];
  const y = b[section]?.[name];
  if (x === undefined || y === undefined) return null;
  return y - x;
}
