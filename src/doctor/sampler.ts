/**
 * What changes during the sample: accept-queue lengths, ONESHOT arming, which
 * threads sleep on which epoll instance or listener, CPU time. Thread: the
 * caller's; every read is a short synchronous /proc or netlink read, and the
 * caller spaces ticks with timers so the event loop keeps running.
 */
import { parseFdinfo, isDisarmed, isOneshot } from './proc/fdinfo.js';
import { TCP_LISTEN } from './proc/netTcp.js';
import { parseSyscall, syscallTable, waitTarget } from './proc/syscall.js';
import { tryReadText } from './proc/read.js';
import { readTcpTables } from './discover.js';
import { instancesWaitedVia, itemInode, type EpollFd } from './epoll.js';
import { listenSockets, type Kernel } from './kernel.js';
import { listThreads, readStat, type ProcessInfo } from './processes.js';
import type { EpollInstance, Listener, QueueStats, Registration, TargetInfo, Waiter } from './types.js';

export class Sampler {
  readonly queues = new Map<number, QueueStats>();
  /** listener inode -> threads seen blocked in accept() on it. */
  readonly acceptWaiters = new Map<number, Waiter[]>();
  samples = 0;
  diagError: string | null = null;
  readonly waitSamplingError: string | null;
  private readonly table = syscallTable();
  private useDiag: boolean;

  constructor(
    private readonly target: TargetInfo,
    private readonly listeners: Listener[],
    private readonly kernel: Kernel,
    private readonly registrations: Registration[],
    private readonly instances: EpollInstance[],
    private readonly epollFds: EpollFd[],
    private readonly byFd: Map<string, number>,
    private readonly all: Map<number, ProcessInfo>,
  ) {
    this.useDiag = target.sameNetns && kernel.native !== null;
    this.waitSamplingError = this.table ? null : `no syscall table for architecture ${process.arch}`;
    if (!target.sameNetns) this.diagError = target.netnsUnknown ?? 'the target is in another network namespace; inet_diag sees only ours';
    else if (!kernel.native) this.diagError = kernel.unavailableReason;
    for (const l of listeners) {
      this.queues.set(l.inode, { inode: l.inode, samples: 0, first: 0, last: 0, max: 0, atLimit: 0, nearFull: 0 });
    }
  }

  /** Reads backlogs once, before sampling. */
  fillBacklogs(): void {
    if (!this.useDiag) return;
    try {
      const diag = listenSockets(this.kernel);
      for (const l of this.listeners) l.backlog = diag.get(l.inode)?.wqueue ?? null;
    } catch (err) {
      this.useDiag = false;
      this.diagError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Queue length and, from inet_diag only, the listener's drop count. */
  private queueLengths(): Map<number, { length: number; drops: number | null }> {
    const out = new Map<number, { length: number; drops: number | null }>();
    if (this.useDiag) {
      try {
        // An addon built before `drops` existed leaves it undefined: treat as unknown.
        for (const [inode, s] of listenSockets(this.kernel)) out.set(inode, { length: s.rqueue, drops: s.drops ?? null });
        return out;
      } catch (err) {
        this.useDiag = false;
        this.diagError = err instanceof Error ? err.message : String(err);
      }
    }
    try {
      for (const r of readTcpTables(this.target.netPid)) if (r.state === TCP_LISTEN) out.set(r.inode, { length: r.rxQueue, drops: null });
    } catch {
      // The namespace went away with the target; the next checks will say so.
    }
    return out;
  }

  private sampleQueues(): void {
    const lengths = this.queueLengths();
    for (const l of this.listeners) {
      const seen = lengths.get(l.inode);
      const s = this.queues.get(l.inode);
      if (seen === undefined || s === undefined) continue;
      Sampler.sampleDrops(s, seen.drops);
      const q = seen.length;
      if (s.samples === 0) s.first = s.min = q;
      s.samples++;
      s.min = Math.min(s.min ?? q, q);
      s.last = q;
      s.max = Math.max(s.max, q);
      if (l.backlog !== null && l.backlog > 0) {
        if (q >= l.backlog) s.atLimit++;
        if (q >= 0.8 * l.backlog) s.nearFull++;
      }
    }
  }

  /**
   * One sample without a drop count (inet_diag failed mid-way, fell back to
   * /proc) makes the whole window unknown: a delta over part of it could miss
   * the drops, and the check would then clear a listener that overflowed.
   */
  private static sampleDrops(s: QueueStats, drops: number | null): void {
    if (s.dropsFirst === null) return;
    if (drops === null) {
      s.dropsFirst = s.dropsLast = null;
      return;
    }
    if (s.dropsFirst === undefined) s.dropsFirst = drops;
    s.dropsLast = drops;
  }

  private sampleOneshot(): void {
    for (const r of this.registrations) {
      if (!isOneshot(r.events)) continue;
      const text = tryReadText(`/proc/${r.pid}/fdinfo/${r.epfd}`);
      if (text === null) continue;
      const item = parseFdinfo(text).epoll.find((it) =>
        it.ino !== undefined ? it.ino === r.listenerInode : itemInode(r.pid, it).socket === r.listenerInode,
      );
      if (!item) continue;
      if (isDisarmed(item.events)) r.disarmedSamples++;
      else r.armedSamples++;
    }
  }

  private static addWaiter(list: Waiter[], pid: number, tid: number, how: Waiter['how']): void {
    const w = list.find((x) => x.pid === pid && x.tid === tid);
    if (w) w.samples++;
    else list.push({ pid, tid, how, samples: 1 });
  }

  private sampleWaits(): void {
    if (!this.table) return;
    for (const pid of this.target.pids) {
      for (const tid of listThreads(pid)) {
        const w = waitTarget(parseSyscall(tryReadText(`/proc/${pid}/task/${tid}/syscall`) ?? ''), this.table);
        if (!w) continue;
        if (w.how === 'epoll_wait') {
          for (const id of instancesWaitedVia(pid, w.fd, this.epollFds, this.byFd)) {
            const instance = this.instances[id];
            if (instance) Sampler.addWaiter(instance.waiters, pid, tid, 'epoll_wait');
          }
        } else {
          const inode = this.all.get(pid)?.fds.find((f) => f.fd === w.fd)?.socketInode;
          if (inode === undefined || !this.queues.has(inode)) continue;
          const list = this.acceptWaiters.get(inode) ?? [];
          Sampler.addWaiter(list, pid, tid, 'accept');
          this.acceptWaiters.set(inode, list);
        }
      }
    }
  }

  tick(): void {
    this.samples++;
    this.sampleQueues();
    this.sampleOneshot();
    this.sampleWaits();
  }
}

/** utime+stime per process ("pid") and per thread ("pid/tid"), with names. */
export function cpuSnapshot(pids: number[]): Map<string, { ticks: number; comm: string }> {
  const out = new Map<string, { ticks: number; comm: string }>();
  for (const pid of pids) {
    const p = readStat(pid);
    if (!p) continue;
    out.set(String(pid), { ticks: p.utime + p.stime, comm: p.comm });
    for (const tid of listThreads(pid)) {
      const t = readStat(pid, tid);
      if (t) out.set(`${pid}/${tid}`, { ticks: t.utime + t.stime, comm: t.comm });
    }
  }
  return out;
}
