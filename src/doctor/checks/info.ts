/** Context the user needs to read the rest: reuseport groups, kernel limits, what doctor could not see. */
import type { DoctorData, Finding } from '../types.js';
import { foreignOverflow } from './acceptQueue.js';
import { listenerName } from './util.js';
import { plural } from '../../cli/format.js';

export function checkReuseport(d: DoctorData): Finding[] {
  const groups = new Map<string, typeof d.listeners>();
  for (const l of d.listeners) {
    const k = `${l.family}|${l.address}|${l.port}`;
    groups.set(k, [...(groups.get(k) ?? []), l]);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const [first, ...rest] = g;
    if (!first || rest.length === 0) continue;
    out.push({
      code: 'REUSEPORT_GROUP',
      severity: 'info',
      message: `${g.length} listen sockets share ${listenerName(first)} (SO_REUSEPORT): the kernel spreads new connections across them by hash`,
      evidence: {
        listener: listenerName(first),
        sockets: g.map((l) => ({ inode: l.inode, backlog: l.backlog, holders: l.holders.map((h) => `${h.pid}/fd${h.fd}`) })),
      },
      why: 'each socket has its own accept queue: one slow worker fills its own queue while the others idle',
      fix: 'nothing, if every socket is drained by its own worker',
      pitfalls: [5],
    });
  }
  return out;
}

export function checkKernelSettings(d: DoctorData): Finding[] {
  const s = d.sysctl;
  const parts = [
    `net.core.somaxconn ${s.somaxconn ?? '?'}`,
    `net.ipv4.tcp_max_syn_backlog ${s.tcpMaxSynBacklog ?? '?'}`,
    `net.ipv4.tcp_syncookies ${s.syncookies ?? '?'}`,
    `net.ipv4.tcp_abort_on_overflow ${s.tcpAbortOnOverflow ?? '?'}`,
  ];
  // Shown so that a reader who watches nstat is not puzzled by the missing ACCEPT_QUEUE_OVERFLOW.
  const foreign = foreignOverflow(d);
  const elsewhere = foreign
    ? { otherListenersOverflowed: { ...foreign, note: 'namespace-wide counters grew; no target listener dropped anything' } }
    : {};
  return [
    {
      code: 'KERNEL_SETTINGS',
      severity: 'info',
      message: parts.join(', ') + (d.target.sameNetns ? '' : " (doctor's network namespace; the target's may differ)"),
      evidence: { ...s, ...elsewhere },
      why:
        'somaxconn caps every listen() backlog; tcp_max_syn_backlog bounds half-open connections; syncookies keep ' +
        'accepting when the SYN queue overflows; tcp_abort_on_overflow=1 answers an overflow with RST instead of a silent drop',
      fix: 'raise somaxconn before starting servers that need deep accept queues',
      pitfalls: [12],
    },
  ];
}

export function checkVisibility(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  if (d.listeners.length === 0) {
    out.push({
      code: 'NO_LISTENER',
      severity: 'info',
      message: `the target holds no listening TCP socket; only fd and CLOSE_WAIT checks apply`,
      evidence: { pids: d.target.pids },
      why: 'the listener checks need a listening socket held by the target or its children',
      fix: 'point doctor at the process that listens, or use --port',
      pitfalls: [],
    });
  }
  const limits: Record<string, string> = {};
  if (d.kcmpError) limits.kcmp = d.kcmpError;
  if (d.diagError) limits.inetDiag = d.diagError;
  if (d.waitSamplingError) limits.threadWaits = d.waitSamplingError;
  const unreadable = Object.keys(d.target.unreadable).length;
  if (unreadable > 0 && Object.values(d.target.unreadable).some((c) => c === 'EACCES' || c === 'EPERM')) {
    limits.processes = `${plural(unreadable, 'process', 'processes')} could not be read (not root): holders among them are not shown`;
  }
  if (d.target.exited?.length) {
    limits.exited = `${d.target.exited.length} process(es) of the target exited during the sample: ${d.target.exited.join(', ')} (their CPU, fds and epoll state are missing or stale)`;
  }
  if (Object.keys(limits).length > 0) {
    out.push({
      code: 'LIMITED_VIEW',
      severity: 'info',
      message: `some checks ran with less evidence: ${Object.entries(limits).map(([k, v]) => `${k}: ${v}`).join('; ')}`,
      evidence: limits,
      why: 'without inet_diag backlogs are unknown; without kcmp epoll fds of different processes cannot be told apart',
      fix: 'run as root, in the target\'s network namespace, with the native addon built (npx node-gyp rebuild)',
      pitfalls: [],
    });
  }
  return out;
}
