/**
 * Parser for /proc/PID/stat and /proc/PID/task/TID/stat. The command name is
 * in parentheses and may itself contain spaces and ')', so fields are counted
 * from the last ')'.
 */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Clock ticks (USER_HZ) in user and kernel mode. */
  utime: number;
  stime: number;
  numThreads: number;
  starttime: number;
}

export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const field = (n: number) => Number(rest[n - 3]);
  if (rest.length < 20 || !Number.isFinite(pid)) return null;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '',
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    numThreads: field(20),
    starttime: rest.length >= 20 ? field(22) : 0,
  };
}

/** USER_HZ: 100 on every Linux ABI Node supports; /proc exports ticks in it. */
export const USER_HZ = 100;
