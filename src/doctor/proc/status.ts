/** Parser for /proc/PID/status ("Key:\tvalue" lines); only what doctor uses. */
export interface ProcStatus {
  name?: string;
  tgid?: number;
  ppid?: number;
  /** Real uid. */
  uid?: number;
}

export function parseStatus(text: string): ProcStatus {
  const out: ProcStatus = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    if (key === 'Name') out.name = value;
    else if (key === 'Tgid') out.tgid = Number(value);
    else if (key === 'PPid') out.ppid = Number(value);
    else if (key === 'Uid') out.uid = Number(value.split(/\s+/)[0]);
  }
  return out;
}
