/**
 * One doctor run: find the target, read its epoll and socket state, sample it
 * for a few seconds, run the checks. Thread: the caller's; it awaits timers
 * between samples, so it can run inside a process that also serves traffic.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { runChecks } from './checks/index.js';
import { TargetError, discoverByPid, discoverByPort, readTcpTables, type Discovery } from './discover.js';
import { groupInstances, readEpollFds } from './epoll.js';
import { loadKernel } from './kernel.js';
import { listFds } from './proc/fds.js';
import { nofile, parseLimits } from './proc/limits.js';
import { parseNetstat, type Counters } from './proc/netstat.js';
import { TCP_CLOSE_WAIT, type TcpRow } from './proc/netTcp.js';
import { tryReadText } from './proc/read.js';
import { readNetSysctls } from './proc/sysctl.js';
import { listThreads, readStat, type ProcessInfo } from './processes.js';
import { Sampler, cpuSnapshot } from './sampler.js';
import type { CpuUnit, DoctorData, EpollInstance, FdUsage, Finding, Listener, Waiter } from './types.js';

export interface DoctorOptions {
  pid?: number;
  port?: number;
  /** Sampling time; default 2. */
  seconds?: number;
  /** Time between samples; default 100 ms. */
  intervalMs?: number;
}

export interface DoctorResult {
  data: DoctorData;
  findings: Finding[];
  /** The processes in scope, for the report's header. */
  processes: { pid: number; comm: string; ppid: number; uid: number | null; threads: number }[];
}

function readCounters(netPid: number | 'self'): Counters | null {
  const t = tryReadText(`/proc/${netPid}/net/netstat`);
  return t === null ? null : parseNetstat(t);
}

const unmap = (a: string) => (a.startsWith('::ffff:') ? a.slice(7) : a);
const WILDCARD = new Set(['0.0.0.0', '::']);

/** A CLOSE_WAIT socket belongs to the target if one of its processes holds it, or it waits in one of its accept queues. */
export function targetCloseWait(rows: TcpRow[], inodes: Set<number>, listeners: Listener[]): TcpRow[] {
  return rows.filter((r) => {
    if (r.state !== TCP_CLOSE_WAIT) return false;
    if (r.inode !== 0) return inodes.has(r.inode);
    return listeners.some(
      (l) => l.port === r.localPort && (WILDCARD.has(l.address) || unmap(l.address) === unmap(r.localAddress)),
    );
  });
}

function socketInodes(pids: number[], all: Map<number, ProcessInfo>): Set<number> {
  const out = new Set<number>();
  for (const pid of pids) for (const f of all.get(pid)?.fds ?? []) if (f.socketInode) out.add(f.socketInode);
  return out;
}

function closeWaitNow(d: Discovery, all: Map<number, ProcessInfo>): TcpRow[] {
  try {
    return targetCloseWait(readTcpTables(d.target.netPid), socketInodes(d.target.pids, all), d.listeners);
  } catch {
    return [];
  }
}

/**
 * The workers of the listeners: the threads seen sleeping on a listener (in
 * epoll_wait on an instance holding one, or in accept()), counted per process
 * when the process has one thread. A master that only holds the fds, and a
 * Node process's many other threads, are not workers.
 */
export function workerUnits(
  d: Discovery,
  instances: EpollInstance[],
  acceptWaiters: Map<number, Waiter[]>,
  before: Map<string, { ticks: number; comm: string }>,
  after: Map<string, { ticks: number; comm: string }>,
): CpuUnit[] {
  const waitingTids = new Map<number, Set<number>>();
  const users = new Set<number>();
  const note = (w: Waiter) => {
    users.add(w.pid);
    waitingTids.set(w.pid, (waitingTids.get(w.pid) ?? new Set()).add(w.tid));
  };
  for (const inst of instances) inst.waiters.forEach(note);
  for (const list of acceptWaiters.values()) list.forEach(note);
  // Nobody seen waiting (all busy, or no syscall table): fall back to who holds what.
  if (users.size === 0) for (const inst of instances) for (const m of inst.members) users.add(m.pid);
  if (users.size === 0) for (const l of d.listeners) for (const h of l.holders) users.add(h.pid);
  const delta = (k: string) => {
    const a = before.get(k);
    const b = after.get(k);
    return a && b ? { ticks: Math.max(0, b.ticks - a.ticks), comm: b.comm } : null;
  };
  const units: CpuUnit[] = [];
  for (const pid of [...users].sort((a, b) => a - b)) {
    const tids = waitingTids.get(pid);
    if (tids && listThreads(pid).length > 1) {
      for (const tid of [...tids].sort((a, b) => a - b)) {
        const c = delta(`${pid}/${tid}`);
        if (c) units.push({ pid, tid, comm: c.comm, ticks: c.ticks });
      }
    } else {
      const c = delta(String(pid));
      if (c) units.push({ pid, comm: c.comm, ticks: c.ticks });
    }
  }
  return units;
}

/**
 * Start time per pid (null: already gone since discovery). A pid whose start
 * time changed was reused by a new process.
 */
function startTimes(pids: number[]): Map<number, number | null> {
  const out = new Map<number, number | null>();
  for (const pid of pids) {
    const st = readStat(pid);
    out.set(pid, st && st.state !== 'Z' ? st.starttime : null);
  }
  return out;
}

/** A zombie still has its /proc entry and start time, but no fds, sockets or threads any more. */
function goneSince(born: Map<number, number | null>): number[] {
  return [...born]
    .filter(([pid, t]) => {
      if (t === null) return true;
      const st = readStat(pid);
      return !st || st.state === 'Z' || st.starttime !== t;
    })
    .map(([pid]) => pid);
}

/**
 * The sample is meaningless once the target is gone: a dead process has empty
 * queues and no CPU, which would read as healthy. Throws for the --pid process
 * itself, or every process of a --port target; a part of it going is reported.
 */
function assertAlive(d: Discovery, exited: number[], seconds: number): void {
  if (exited.length === 0) return;
  const { target } = d;
  const when = `during the sample (${seconds.toFixed(1)} s in)`;
  if (target.mode === 'pid' && target.pid !== undefined && exited.includes(target.pid)) {
    throw new TargetError(`pid ${target.pid} exited ${when}; nothing it showed before can be trusted as current`);
  }
  if (exited.length === target.pids.length) {
    throw new TargetError(`every process holding port ${target.port} (${target.pids.join(', ')}) exited ${when}`);
  }
}

function fdUsage(pids: number[], all: Map<number, ProcessInfo>): FdUsage[] {
  const out: FdUsage[] = [];
  for (const pid of pids) {
    const limits = tryReadText(`/proc/${pid}/limits`);
    const lim = limits === null ? null : nofile(parseLimits(limits));
    if (!lim) continue;
    let open: number;
    try {
      open = listFds(pid).length;
    } catch {
      continue;
    }
    out.push({ pid, comm: all.get(pid)?.comm ?? '?', open, soft: lim.soft, hard: lim.hard });
  }
  return out;
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorResult> {
  if ((opts.pid === undefined) === (opts.port === undefined)) throw new TypeError('runDoctor: give exactly one of pid or port');
  const seconds = opts.seconds ?? 2;
  const interval = opts.intervalMs ?? 100;
  const kernel = await loadKernel();
  const d = opts.pid !== undefined ? discoverByPid(opts.pid) : discoverByPort(opts.port as number);
  const { target, listeners, all } = d;
  const listenerInodes = new Set(listeners.map((l) => l.inode));
  const epollFds = readEpollFds(target.pids, all, listenerInodes);
  const grouping = groupInstances(epollFds, kernel);
  const sampler = new Sampler(target, listeners, kernel, grouping.registrations, grouping.instances, epollFds, grouping.byFd, all);
  sampler.fillBacklogs();

  const t0 = performance.now();
  const countersStart = readCounters(target.netPid);
  const cpuStart = cpuSnapshot(target.pids);
  const closeWaitStart = closeWaitNow(d, all);
  const born = startTimes(target.pids);
  // One sample at each end of every interval: n intervals span the requested time, n + 1 samples.
  const ticks = Math.min(3001, Math.max(2, Math.round((seconds * 1000) / interval) + 1));
  for (let i = 0; i < ticks; i++) {
    sampler.tick();
    // Checked every tick so that a target that dies is reported at once, not after the full sample.
    assertAlive(d, goneSince(born), (performance.now() - t0) / 1000);
    if (i + 1 < ticks) await sleep(interval);
  }
  const countersEnd = readCounters(target.netPid);
  const cpuEnd = cpuSnapshot(target.pids);
  const elapsed = (performance.now() - t0) / 1000;
  const exited = goneSince(born);
  assertAlive(d, exited, elapsed);
  if (exited.length > 0) target.exited = exited;

  // Re-read fd tables: connections accepted during the sample are the target's too.
  for (const pid of target.pids) {
    const p = all.get(pid);
    if (!p) continue;
    try {
      p.fds = listFds(pid);
    } catch {
      // Gone or unreadable now: keep what discovery saw.
    }
  }
  const closeWaitEnd = closeWaitNow(d, all);

  const data: DoctorData = {
    target,
    listeners,
    registrations: grouping.registrations,
    instances: grouping.instances,
    kcmpError: grouping.kcmpError,
    diagError: sampler.diagError,
    waitSamplingError: sampler.waitSamplingError,
    queues: [...sampler.queues.values()],
    counters: { start: countersStart, end: countersEnd },
    closeWait: { start: closeWaitStart, end: closeWaitEnd },
    fdUsage: fdUsage(target.pids, all),
    cpu: workerUnits(d, grouping.instances, sampler.acceptWaiters, cpuStart, cpuEnd),
    sysctl: readNetSysctls(),
    seconds: elapsed,
    samples: sampler.samples,
  };
  const processes = target.pids.map((pid) => {
    const p = all.get(pid);
    return { pid, comm: p?.comm ?? '?', ppid: p?.ppid ?? 0, uid: p?.uid ?? null, threads: listThreads(pid).length };
  });
  return { data, findings: runChecks(data), processes };
}

export function exitCode(findings: Finding[]): number {
  return findings.some((f) => f.severity === 'error') ? 1 : 0;
}
