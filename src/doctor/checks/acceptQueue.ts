/**
 * The accept queue (pitfall 12): overflows, a queue near its backlog, and a
 * backlog cut by net.core.somaxconn or too small for the load. The evidence
 * is each listener's own drop count (sk_drops via inet_diag): ListenOverflows
 * and ListenDrops sum every listener in the network namespace, so another
 * server's overflow would otherwise read as the target's. Only when the kernel
 * cannot give a listener's drops do those counters count against it, and then
 * only if it was seen at its limit.
 */
import { counterDelta } from '../proc/netstat.js';
import type { DoctorData, Finding, Listener, QueueStats } from '../types.js';
import { listenerName } from './util.js';
import { plural } from '../../cli/format.js';

function stats(d: DoctorData, l: Listener): QueueStats | undefined {
  return d.queues.find((q) => q.inode === l.inode);
}

/**
 * The listener's own drops during the sample; null when they were not known
 * for the whole sample. SKMEMINFO carries sk_drops as a u32, so a wrap during
 * the sample still gives the right delta.
 */
export function listenerDrops(q: QueueStats | undefined): number | null {
  if (!q || typeof q.dropsFirst !== 'number' || typeof q.dropsLast !== 'number') return null;
  return (q.dropsLast - q.dropsFirst + 2 ** 32) % 2 ** 32;
}

function queueEvidence(l: Listener, q: QueueStats | undefined) {
  return {
    listener: listenerName(l),
    inode: l.inode,
    backlog: l.backlog,
    queueFirst: q?.first ?? null,
    queueLast: q?.last ?? null,
    queueMax: q?.max ?? null,
    samplesAtLimit: q?.atLimit ?? 0,
    samplesNearFull: q?.nearFull ?? 0,
    samples: q?.samples ?? 0,
    listenerDrops: listenerDrops(q),
  };
}

export function overflowDeltas(d: DoctorData): { overflows: number | null; drops: number | null } {
  const { start, end } = d.counters;
  if (!start || !end) return { overflows: null, drops: null };
  return {
    overflows: counterDelta(start, end, 'TcpExt', 'ListenOverflows'),
    drops: counterDelta(start, end, 'TcpExt', 'ListenDrops'),
  };
}

const OVERFLOW_WHY =
  'when the accept queue is full the kernel drops the SYN (or the final ACK): the client retransmits after ' +
  '1 s, 3 s, ... and short-timeout clients fail with ETIMEDOUT (errno 110), as in a field report of short-connection bursts (docs/pitfalls.md).';
const OVERFLOW_FIX =
  'accept faster (drain accept() to EAGAIN on every wakeup, more accepting loops), raise the listen() backlog ' +
  'and net.core.somaxconn (then restart: the backlog is fixed at listen()), and pool client connections';

function namespaceCounters(d: DoctorData) {
  const { overflows, drops } = overflowDeltas(d);
  return { ListenOverflows: overflows, ListenDrops: drops, seconds: Number(d.seconds.toFixed(2)) };
}

/**
 * The namespace counters grew, but every target listener reported its own
 * drops and none dropped anything: someone else's queue overflowed. Context
 * for KERNEL_SETTINGS, never an ACCEPT_QUEUE_OVERFLOW.
 */
export function foreignOverflow(d: DoctorData): { ListenOverflows: number | null; ListenDrops: number | null } | null {
  const { overflows, drops } = overflowDeltas(d);
  if (!((overflows ?? 0) > 0 || (drops ?? 0) > 0) || d.listeners.length === 0) return null;
  const own = d.listeners.map((l) => listenerDrops(stats(d, l)));
  if (own.some((n) => n === null || n > 0)) return null;
  return { ListenOverflows: overflows, ListenDrops: drops };
}

/** Without per-listener drops: the namespace counters, held against listeners seen at their limit. */
function checkOverflowByNamespace(d: DoctorData, listeners: Listener[]): Finding[] {
  const { overflows, drops } = overflowDeltas(d);
  if (!((overflows ?? 0) > 0 || (drops ?? 0) > 0)) return [];
  const full = listeners.filter((l) => (stats(d, l)?.atLimit ?? 0) > 0);
  const counters = namespaceCounters(d);
  if (full.length === 0) {
    return [
      {
        code: 'ACCEPT_QUEUE_OVERFLOW',
        severity: 'warning',
        message:
          `ListenOverflows grew by ${overflows ?? '?'} and ListenDrops by ${drops ?? '?'} in the target's network ` +
          `namespace in ${d.seconds.toFixed(1)} s, but no target listener was seen at its limit (another listener, or bursts between samples)`,
        evidence: { ...counters, listeners: listeners.map((l) => queueEvidence(l, stats(d, l))) },
        why: OVERFLOW_WHY,
        fix: OVERFLOW_FIX,
        pitfalls: [12],
      },
    ];
  }
  return full.map((l) => ({
    code: 'ACCEPT_QUEUE_OVERFLOW',
    severity: 'error' as const,
    message:
      `the accept queue of ${listenerName(l)} was at its limit (backlog ${l.backlog}) while ListenOverflows grew by ` +
      `${overflows ?? '?'} and ListenDrops by ${drops ?? '?'} in ${d.seconds.toFixed(1)} s: connections are being dropped`,
    evidence: { ...counters, ...queueEvidence(l, stats(d, l)) },
    why: OVERFLOW_WHY,
    fix: OVERFLOW_FIX,
    pitfalls: [12],
  }));
}

export function checkOverflow(d: DoctorData): Finding[] {
  const known = d.listeners.flatMap((l) => {
    const q = stats(d, l);
    const n = listenerDrops(q);
    return n === null ? [] : [{ l, q, n }];
  });
  // No per-listener evidence at all (another namespace, no addon, an old kernel): the old rule, unchanged.
  if (known.length === 0) return checkOverflowByNamespace(d, d.listeners);
  const counters = namespaceCounters(d);
  const dropped: Finding[] = [];
  for (const { l, q, n } of known) {
    if (n === 0) continue;
    dropped.push({
      code: 'ACCEPT_QUEUE_OVERFLOW',
      severity: 'error',
      message:
        `${listenerName(l)} itself dropped ${n} connection attempt${n === 1 ? '' : 's'} in ${d.seconds.toFixed(1)} s ` +
        `(its own count from inet_diag, SYN retransmissions included): ` +
        `its accept queue (backlog ${l.backlog ?? '?'}) was full`,
      evidence: { ...counters, ...queueEvidence(l, q) },
      why: OVERFLOW_WHY,
      fix: OVERFLOW_FIX,
      pitfalls: [12],
    });
  }
  // Listeners without a drop count (e.g. gone from inet_diag mid-sample) keep the old rule; its
  // "no listener seen at its limit" warning adds nothing once a target listener is known to drop.
  const unknown = d.listeners.filter((l) => !known.some((k) => k.l === l));
  if (unknown.length === 0) return dropped;
  const fallback = checkOverflowByNamespace(d, unknown);
  return dropped.length === 0 ? fallback : [...dropped, ...fallback.filter((f) => f.severity === 'error')];
}

export function checkNearFull(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  for (const l of d.listeners) {
    const q = stats(d, l);
    if (!q || q.nearFull === 0 || l.backlog === null) continue;
    out.push({
      code: 'ACCEPT_QUEUE_NEAR_FULL',
      severity: 'warning',
      message: `the accept queue of ${listenerName(l)} reached ${q.max} of backlog ${l.backlog} (>= 80% in ${q.nearFull} of ${q.samples} samples)`,
      evidence: queueEvidence(l, q),
      why: 'a queue this full overflows at the next burst; connections already wait in it before the app sees them',
      fix: 'accept faster (drain to EAGAIN, more accepting loops) and raise the backlog (listen() and net.core.somaxconn)',
      pitfalls: [12],
    });
  }
  return out;
}

/** Backlogs at or below this are "small" whatever the load (the old somaxconn default). */
const SMALL_BACKLOG = 128;

export function checkBacklog(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  const idleCapped: Listener[] = [];
  const somaxconn = d.sysctl.somaxconn;
  const { overflows, drops } = overflowDeltas(d);
  const grew = (overflows ?? 0) > 0 || (drops ?? 0) > 0;
  for (const l of d.listeners) {
    if (l.backlog === null) continue;
    const q = stats(d, l);
    // The listener's own drops are direct proof of load; without them, a namespace-wide overflow while its queue was at the limit.
    const own = listenerDrops(q);
    const overflowed = own !== null ? own > 0 : grew && (q?.atLimit ?? 0) > 0;
    const loaded = (q?.nearFull ?? 0) > 0 || overflowed;
    const capped = somaxconn !== null && l.backlog === somaxconn;
    const small = l.backlog <= SMALL_BACKLOG;
    const evidence = { ...queueEvidence(l, q), somaxconn, ListenOverflows: overflows, ListenDrops: drops };
    const fix =
      `raise net.core.somaxconn (sysctl -w net.core.somaxconn=65535; persist it in /etc/sysctl.d), pass a large ` +
      `backlog to listen(), and restart the server: the backlog is fixed when listen() is called`;
    if (capped && (loaded || small)) {
      out.push({
        code: 'BACKLOG_TRUNCATED',
        severity: loaded ? 'warning' : 'info',
        message: `the backlog of ${listenerName(l)} is ${l.backlog}, exactly net.core.somaxconn: listen() asked for at least that and the kernel cut it` +
          (loaded ? ', and the queue filled during the sample' : ''),
        evidence,
        why: 'listen(fd, n) silently uses min(n, somaxconn); raising somaxconn later does not change an open listener',
        fix,
        pitfalls: [12],
      });
    } else if (small && loaded) {
      out.push({
        code: 'BACKLOG_TRUNCATED',
        severity: 'warning',
        message: `the effective backlog of ${listenerName(l)} is only ${l.backlog}, and the queue filled during the sample`,
        evidence,
        why: 'a short accept queue overflows at the first burst of connections; the kernel then drops SYNs',
        fix,
        pitfalls: [12],
      });
    } else if (capped) {
      idleCapped.push(l);
    }
  }
  // One line for all sockets whose backlog is the kernel maximum and that stayed short: context, not a problem.
  if (idleCapped.length > 0) {
    const names = [...new Set(idleCapped.map(listenerName))];
    out.push({
      code: 'BACKLOG_TRUNCATED',
      severity: 'info',
      message: `the backlog of ${names.join(', ')} equals net.core.somaxconn (${somaxconn}): the app asked for at least that (${plural(idleCapped.length, 'socket')}); the queue stayed short`,
      evidence: { somaxconn, listeners: idleCapped.map((l) => queueEvidence(l, stats(d, l))) },
      why: 'a listener that asks for more gets somaxconn; fine while the queue stays short',
      fix: 'nothing now; raise net.core.somaxconn before restarting if the queue ever fills',
      pitfalls: [12],
    });
  }
  return out;
}
