/**
 * CPU skew among the workers that take connections from one listener
 * (pitfall 5: "20 workers, 3-4 hot"). Needs enough CPU in the sample to mean
 * anything, and at least three workers.
 */
import { USER_HZ } from '../proc/stat.js';
import type { CpuUnit, DoctorData, Finding } from '../types.js';

export interface Skew {
  hot: CpuUnit[];
  topShare: number;
  threshold: number;
  totalTicks: number;
}

export function cpuSkew(units: CpuUnit[], seconds: number): Skew | null {
  const n = units.length;
  if (n < 3) return null;
  const total = units.reduce((s, u) => s + u.ticks, 0);
  // Below 10% of one CPU the numbers are tick noise.
  if (total < Math.max(10, 0.1 * seconds * USER_HZ)) return null;
  const sorted = [...units].sort((a, b) => b.ticks - a.ticks);
  const k = Math.ceil(n / 4);
  const top = sorted.slice(0, k);
  const topShare = top.reduce((s, u) => s + u.ticks, 0) / total;
  const threshold = Math.max(0.6, (2 * k) / n);
  if (topShare < threshold) return null;
  return { hot: top, topShare, threshold, totalTicks: total };
}

export function checkCpuImbalance(d: DoctorData): Finding[] {
  const skew = cpuSkew(d.cpu, d.seconds);
  if (!skew) return [];
  const label = (u: CpuUnit) => (u.tid !== undefined ? `tid ${u.tid}` : `pid ${u.pid}`);
  const ms = (t: number) => Math.round((t * 1000) / USER_HZ);
  return [
    {
      code: 'WORKER_CPU_IMBALANCE',
      severity: 'warning',
      message:
        `${skew.hot.length} of ${d.cpu.length} workers used ${Math.round(skew.topShare * 100)}% of the workers' CPU ` +
        `during the ${d.seconds.toFixed(1)} s sample (${skew.hot.map(label).join(', ')})`,
      evidence: {
        workers: d.cpu.map((u) => ({ pid: u.pid, tid: u.tid, comm: u.comm, cpuMs: ms(u.ticks) })),
        topShare: Number(skew.topShare.toFixed(3)),
        totalCpuMs: ms(skew.totalTicks),
      },
      why:
        'workers that share a listener through one epoll instance (or without EPOLLEXCLUSIVE) are woken together; the ' +
        'same few win accept() while the rest spin on EAGAIN, so load and latency concentrate on a few cores',
      fix: 'one SO_REUSEPORT listener per worker (the kernel spreads connections by hash), or EPOLLEXCLUSIVE on per-worker epoll instances',
      pitfalls: [5],
    },
  ];
}
