/**
 * How listeners are registered in epoll: EPOLLET (pitfalls 1 and 6) and
 * EPOLLONESHOT (pitfall 3), from the fdinfo of the epoll fds.
 */
import { describeEvents, isEdgeTriggered, isOneshot } from '../proc/fdinfo.js';
import type { DoctorData, Finding, QueueStats } from '../types.js';
import { hex, listenerByInode, listenerName } from './util.js';
import { plural } from '../../cli/format.js';

/**
 * The stall of the field report "ab stalls at 996", seen from outside: connections waited in the accept queue
 * at every sample and the queue did not shrink. A server that drains accept()
 * empties it between bursts; an edge-triggered one that accepts once per
 * wakeup leaves the remainder there until the next arrival, or for good.
 */
function stalledQueue(q: QueueStats | undefined): QueueStats | undefined {
  return q !== undefined && q.samples >= 3 && (q.min ?? 0) >= 1 && q.last >= q.first ? q : undefined;
}

export function checkEdgeTriggered(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  for (const l of d.listeners) {
    const regs = d.registrations.filter((r) => r.listenerInode === l.inode && isEdgeTriggered(r.events));
    if (regs.length === 0) continue;
    const stalled = stalledQueue(d.queues.find((q) => q.inode === l.inode));
    out.push({
      code: 'LISTENER_EDGE_TRIGGERED',
      severity: stalled ? 'error' : 'warning',
      message: stalled
        ? `listener ${listenerName(l)} is registered with EPOLLET in ${plural(regs.length, 'epoll instance')} and its accept queue never emptied: ` +
          `at least ${plural(stalled.min ?? 1, 'connection')} waited in every one of ${plural(stalled.samples, 'sample')}, so wakeups are not draining accept()`
        : `listener ${listenerName(l)} is registered with EPOLLET in ${plural(regs.length, 'epoll instance')}`,
      evidence: {
        listener: listenerName(l),
        inode: l.inode,
        registrations: regs.map((r) => ({ pid: r.pid, epfd: r.epfd, events: hex(r.events), flags: describeEvents(r.events) })),
        ...(stalled ? { acceptQueue: { min: stalled.min, first: stalled.first, last: stalled.last, max: stalled.max, samples: stalled.samples } } : {}),
      },
      why:
        'edge-triggered readiness is announced once per batch of arrivals: a wakeup that accepts one connection ' +
        'leaves the rest of the accept queue unannounced until the next SYN, so connections sit in CLOSE_WAIT ' +
        'unaccepted (a field report: ab stalling at 996 of 1000).',
      fix: 'every wakeup must call accept() until it returns EAGAIN; or register the listener level-triggered',
      pitfalls: [1, 6],
    });
  }
  return out;
}

export function checkOneshot(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  for (const r of d.registrations) {
    if (!isOneshot(r.events)) continue;
    const l = listenerByInode(d, r.listenerInode);
    const name = l ? listenerName(l) : `inode ${r.listenerInode}`;
    const sampled = r.armedSamples + r.disarmedSamples;
    const stuck = sampled >= 2 && r.armedSamples === 0;
    out.push({
      code: 'LISTENER_ONESHOT',
      severity: stuck ? 'error' : 'warning',
      message: stuck
        ? `listener ${name} is registered with EPOLLONESHOT and stayed disarmed in all ${sampled} samples: it fired and was never re-armed, so no new connection is accepted`
        : `listener ${name} is registered with EPOLLONESHOT (armed in ${r.armedSamples} of ${sampled} samples)`,
      evidence: {
        listener: name,
        inode: r.listenerInode,
        pid: r.pid,
        epfd: r.epfd,
        events: hex(r.events),
        flags: describeEvents(r.events),
        armedSamples: r.armedSamples,
        disarmedSamples: r.disarmedSamples,
      },
      why:
        'after a ONESHOT item fires the kernel clears its interest mask (fdinfo events & 0x0fffffff == 0) until ' +
        'EPOLL_CTL_MOD re-arms it; a path that forgets to re-arm stops accepting for good, and handing the event ' +
        'to other threads invites double close and use-after-free.',
      fix: stuck
        ? 're-arm with epoll_ctl(EPOLL_CTL_MOD) after every accept batch on every path, or use a level-triggered listener'
        : 'make sure every path re-arms with EPOLL_CTL_MOD; a level-triggered listener owned by one loop needs none of this',
      pitfalls: [3],
    });
  }
  return out;
}
