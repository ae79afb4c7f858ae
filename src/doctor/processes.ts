/**
 * The process table doctor reasons about: who holds which sockets and epoll
 * fds, and who descends from whom. Thread: any. A process that exits while we
 * walk /proc is skipped; one we may not read is counted, so the report can
 * say "could not see N processes (not root)".
 */
import { parseStat, type ProcStat } from './proc/stat.js';
import { parseStatus } from './proc/status.js';
import { listFds, type FdEntry } from './proc/fds.js';
import { ProcError, isGone, readDir, readText, tryReadText } from './proc/read.js';

export interface ProcessInfo {
  pid: number;
  comm: string;
  ppid: number;
  uid: number | null;
  fds: FdEntry[];
}

export interface ProcessScan {
  processes: Map<number, ProcessInfo>;
  /** pids whose fd table we could not read, with the error code. */
  unreadable: Map<number, string>;
}

export function listPids(): number[] {
  return readDir('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

export function readStat(pid: number, tid?: number): ProcStat | null {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  const t = tryReadText(path);
  return t === null ? null : parseStat(t);
}

export function listThreads(pid: number): number[] {
  try {
    return readDir(`/proc/${pid}/task`).filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/** Reads one process; throws ProcError for a process that exists but cannot be read. */
export function readProcess(pid: number): ProcessInfo {
  const st = parseStatus(readText(`/proc/${pid}/status`));
  const stat = readStat(pid);
  return {
    pid,
    comm: stat?.comm ?? st.name ?? '?',
    ppid: stat?.ppid ?? st.ppid ?? 0,
    uid: st.uid ?? null,
    fds: listFds(pid),
  };
}

/** Every process we can read. Threads share their leader's fd table (CLONE_FILES), so tasks are not walked. */
export function scanProcesses(): ProcessScan {
  const processes = new Map<number, ProcessInfo>();
  const unreadable = new Map<number, string>();
  for (const pid of listPids()) {
    try {
      processes.set(pid, readProcess(pid));
    } catch (err) {
      if (isGone(err)) continue;
      unreadable.set(pid, err instanceof ProcError ? err.code : 'EIO');
    }
  }
  return { processes, unreadable };
}

/** pid and all its descendants (by PPid), in breadth-first order. */
export function descendants(root: number, all: Map<number, ProcessInfo>): number[] {
  const children = new Map<number, number[]>();
  for (const p of all.values()) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out = [root];
  // Breadth first: `out` grows while it is walked, so each child's own children are visited too.
  for (const pid of out) {
    if (out.length >= 100_000) break;
    for (const c of children.get(pid) ?? []) if (!out.includes(c)) out.push(c);
  }
  return out;
}

export interface Holder {
  pid: number;
  fd: number;
  comm: string;
}

/** socket inode -> the (pid, fd) pairs holding it, for the inodes asked about. */
export function socketHolders(all: Map<number, ProcessInfo>, inodes: Set<number>): Map<number, Holder[]> {
  const out = new Map<number, Holder[]>();
  for (const p of all.values()) {
    for (const f of p.fds) {
      if (f.socketInode === undefined || !inodes.has(f.socketInode)) continue;
      const list = out.get(f.socketInode) ?? [];
      list.push({ pid: p.pid, fd: f.fd, comm: p.comm });
      out.set(f.socketInode, list);
    }
  }
  return out;
}
