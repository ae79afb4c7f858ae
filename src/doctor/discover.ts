/**
 * Finds the target: its processes, its listening sockets and who holds them.
 * Thread: any. Throws TargetError (exit code 2) when the target does not exist
 * or cannot be read, with the reason.
 */
import { readLink, readText, tryReadText, ProcError, isGone } from './proc/read.js';
import { parseNetTcp, TCP_LISTEN, type TcpRow } from './proc/netTcp.js';
import { parseStatus } from './proc/status.js';
import { descendants, readProcess, readStat, scanProcesses, socketHolders, type ProcessInfo } from './processes.js';
import type { Listener, TargetInfo } from './types.js';
import { plural } from '../cli/format.js';

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export interface Discovery {
  target: TargetInfo;
  listeners: Listener[];
  /** Every readable process (for holders and descendants). */
  all: Map<number, ProcessInfo>;
}

/** Both TCP tables of a network namespace; a kernel without IPv6 has no tcp6. */
export function readTcpTables(netPid: number | 'self'): TcpRow[] {
  const base = `/proc/${netPid}/net`;
  const v4 = readText(`${base}/tcp`);
  const v6 = tryReadText(`${base}/tcp6`);
  return [...parseNetTcp(v4, 'IPv4'), ...(v6 === null ? [] : parseNetTcp(v6, 'IPv6'))];
}

export interface NetnsAnswer {
  same: boolean;
  /** Set when neither the ns link nor the socket tables could decide (then same is false). */
  unknown?: string;
}

/**
 * Whether netPid shares our network namespace. The ns link needs ptrace
 * access, which even root lacks for a process holding capabilities it has not
 * (a sandbox's pid 1); /proc/PID/net/tcp stays readable, and socket inodes are
 * unique system-wide, so one socket in both tables proves one namespace.
 */
export function netnsOf(
  netPid: number | 'self',
  link: (path: string) => string | null = readLink,
  tables: (netPid: number | 'self') => TcpRow[] = readTcpTables,
): NetnsAnswer {
  if (netPid === 'self') return { same: true };
  const mine = link('/proc/self/ns/net');
  const theirs = link(`/proc/${netPid}/ns/net`);
  if (mine !== null && theirs !== null) return { same: mine === theirs };
  let inodes: number[];
  let ours: Set<number>;
  try {
    inodes = tables(netPid).map((r) => r.inode).filter((i) => i !== 0);
    ours = new Set(readTcpTables('self').map((r) => r.inode));
  } catch {
    inodes = [];
    ours = new Set();
  }
  if (inodes.length === 0) {
    return { same: false, unknown: `could not tell whether pid ${netPid} shares doctor's network namespace (/proc/${netPid}/ns/net unreadable, no socket to compare)` };
  }
  return { same: inodes.some((i) => ours.has(i)) };
}

export function sameNetns(netPid: number | 'self'): boolean {
  return netnsOf(netPid).same;
}

/** Stable report order: port, family, address, then inode. */
function byAddress(a: Listener, b: Listener): number {
  return a.port - b.port || a.family.localeCompare(b.family) || a.address.localeCompare(b.address) || a.inode - b.inode;
}

function toListener(row: TcpRow, all: Map<number, ProcessInfo>): Listener {
  const holders = socketHolders(all, new Set([row.inode])).get(row.inode) ?? [];
  return {
    inode: row.inode,
    family: row.family,
    address: row.localAddress,
    port: row.localPort,
    uid: row.uid,
    backlog: null,
    holders,
  };
}

function ownerHint(pid: number): string {
  const st = tryReadText(`/proc/${pid}/status`);
  const uid = st ? parseStatus(st).uid : undefined;
  const me = process.getuid?.();
  return uid !== undefined ? ` (owned by uid ${uid}; doctor runs as uid ${me}: run it as root or as that user)` : '';
}

export function discoverByPid(pid: number): Discovery {
  const status = tryReadText(`/proc/${pid}/status`);
  if (status === null) throw new TargetError(`no process with pid ${pid}`);
  // A thread id names its whole process: doctor looks at fd tables, which threads share.
  const tgid = parseStatus(status).tgid ?? pid;
  // A zombie keeps its /proc entry but nothing doctor reads (fds, net): say what it is.
  const stat = readStat(tgid);
  if (stat?.state === 'Z') throw new TargetError(`pid ${pid} has exited (zombie, not reaped by its parent ${stat.ppid})`);
  let root: ProcessInfo;
  try {
    root = readProcess(tgid);
  } catch (err) {
    if (isGone(err)) throw new TargetError(`no process with pid ${pid} (it exited)`);
    const code = err instanceof ProcError ? err.code : 'EIO';
    throw new TargetError(`cannot read /proc/${tgid}/fd: ${code}${ownerHint(tgid)}`);
  }
  const scan = scanProcesses();
  scan.processes.set(tgid, root);
  const scope = descendants(tgid, scan.processes);
  const scopeInodes = new Set<number>();
  for (const p of scope) for (const f of scan.processes.get(p)?.fds ?? []) if (f.socketInode) scopeInodes.add(f.socketInode);

  let rows: TcpRow[];
  try {
    rows = readTcpTables(tgid);
  } catch (err) {
    throw new TargetError(err instanceof Error ? err.message : String(err));
  }
  const listeners = rows
    .filter((r) => r.state === TCP_LISTEN && r.inode !== 0 && scopeInodes.has(r.inode))
    .map((r) => toListener(r, scan.processes))
    .sort(byAddress);
  const pids = new Set(scope);
  for (const l of listeners) for (const h of l.holders) pids.add(h.pid);
  const ns = netnsOf(tgid);
  return {
    target: {
      mode: 'pid',
      pid: tgid,
      pids: [...pids].sort((a, b) => a - b),
      netPid: tgid,
      sameNetns: ns.same,
      ...(ns.unknown ? { netnsUnknown: ns.unknown } : {}),
      unreadable: Object.fromEntries(scan.unreadable),
    },
    listeners,
    all: scan.processes,
  };
}

export function discoverByPort(port: number): Discovery {
  const rows = readTcpTables('self').filter((r) => r.state === TCP_LISTEN && r.localPort === port);
  if (rows.length === 0) {
    throw new TargetError(`nothing listens on TCP port ${port} (in this network namespace; for a container use --pid)`);
  }
  const scan = scanProcesses();
  const listeners = rows.map((r) => toListener(r, scan.processes)).sort(byAddress);
  const pids = new Set<number>();
  for (const l of listeners) for (const h of l.holders) pids.add(h.pid);
  if (pids.size === 0) {
    const denied = [...scan.unreadable.values()].filter((c) => c === 'EACCES' || c === 'EPERM').length;
    throw new TargetError(
      `port ${port} is listened on (socket inode ${rows.map((r) => r.inode).join(', ')}) but no readable process holds it` +
        (denied > 0 ? `: ${plural(denied, 'process', 'processes')} could not be read (EACCES); run as root` : ''),
    );
  }
  return {
    target: {
      mode: 'port',
      port,
      pids: [...pids].sort((a, b) => a - b),
      netPid: 'self',
      sameNetns: true,
      unreadable: Object.fromEntries(scan.unreadable),
    },
    listeners,
    all: scan.processes,
  };
}
