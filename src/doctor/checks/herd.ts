/**
 * Thundering herds on a listener (pitfall 5): one epoll instance shared by
 * several processes or threads, or one listener in several instances without
 * EPOLLEXCLUSIVE.
 */
import { describeEvents, isEdgeTriggered, isExclusive, isOneshot } from '../proc/fdinfo.js';
import type { DoctorData, Finding } from '../types.js';
import { listenerByInode, listenerName } from './util.js';

export function checkSharedEpoll(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  for (const inst of d.instances) {
    const pids = [...new Set(inst.members.map((m) => m.pid))];
    const waitingThreads = inst.waiters.filter((w) => w.how === 'epoll_wait');
    const waitingPids = new Set(waitingThreads.map((w) => w.pid));
    const byProcesses = pids.length >= 2;
    const byThreads = waitingThreads.length >= 2;
    if (!byProcesses && !byThreads) continue;
    const names = inst.listenerInodes.map((i) => {
      const l = listenerByInode(d, i);
      return l ? listenerName(l) : `inode ${i}`;
    });
    const regs = d.registrations.filter((r) => r.instance === inst.id);
    const lt = regs.some((r) => !isEdgeTriggered(r.events) && !isOneshot(r.events));
    const who = byProcesses
      ? `${pids.length} processes (${pids.join(', ')}), ${waitingThreads.length} of their threads seen waiting in epoll_wait on it`
      : `${waitingThreads.length} threads of pid ${[...waitingPids].join(', ')} seen waiting in epoll_wait on it`;
    out.push({
      code: 'SHARED_EPOLL_HERD',
      severity: 'warning',
      message: `one epoll instance holding ${names.join(', ')} is shared by ${who}`,
      evidence: {
        listeners: names,
        members: inst.members,
        sameInstanceBy: byProcesses ? 'kcmp(KCMP_FILE) == 0' : 'same fd in one fd table',
        threadsSeenWaiting: waitingThreads.map((w) => ({ pid: w.pid, tid: w.tid, samples: w.samples })),
        registration: regs.map((r) => describeEvents(r.events)),
      },
      why:
        'all waiters sleep on one ready list: ' +
        (lt
          ? 'a level-triggered listener stays on it after each wakeup, so wakeups cascade and most workers find accept() = EAGAIN while a few do the work (a field report: 20 workers, 3-4 hot).'
          : 'each batch of arrivals wakes whichever waiter is first, so load concentrates on a few workers, and with ' +
            'ONESHOT the event may be handled by one thread while another still touches the same listener.'),
      fix:
        'create the epoll instance in each worker after fork (or per thread) and either give each worker its own ' +
        'SO_REUSEPORT listener or register the shared listener with EPOLLEXCLUSIVE; or accept in one thread and hand connections over',
      pitfalls: [5],
    });
  }
  return out;
}

export function checkSharedListener(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  for (const l of d.listeners) {
    const regs = d.registrations.filter((r) => r.listenerInode === l.inode);
    const nonExclusive = regs.filter((r) => !isExclusive(r.events));
    if (regs.length < 2 || nonExclusive.length < 2) continue;
    if (!nonExclusive.some((r) => !isEdgeTriggered(r.events))) continue;
    const group = d.listeners.filter((o) => o.port === l.port && o.address === l.address && o.family === l.family).length;
    out.push({
      code: 'SHARED_LISTENER_NO_EXCLUSIVE',
      severity: 'warning',
      message: `listener ${listenerName(l)} is registered in ${regs.length} epoll instances, ${nonExclusive.length} without EPOLLEXCLUSIVE`,
      evidence: {
        listener: listenerName(l),
        inode: l.inode,
        instances: regs.map((r) => ({
          instance: r.instance,
          members: d.instances[r.instance]?.members ?? [],
          flags: describeEvents(r.events),
        })),
        reuseportGroupSize: group,
      },
      why:
        'every new connection wakes every instance that waits on the listener; all but one find accept() = EAGAIN ' +
        'and burn CPU, and with level triggering the wakeups repeat until the queue is drained.',
      fix: 'register the listener with EPOLLIN | EPOLLEXCLUSIVE in each instance (Linux 4.5+), or give each worker its own SO_REUSEPORT listener',
      pitfalls: [5],
    });
  }
  return out;
}
