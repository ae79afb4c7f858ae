/**
 * Which epoll instances hold the target's listeners, and which fds in which
 * processes are those instances. Thread: any.
 *
 * Every epoll fd links to the one anon inode "[eventpoll]", so /proc cannot
 * tell two processes' epoll fds apart; kcmp(KCMP_FILE) can. Items are matched
 * to listeners by the target inode (`ino:`), falling back to the `tfd` link
 * only on kernels that do not print it.
 */
import { parseFdinfo, type EpollItem, type FdInfo } from './proc/fdinfo.js';
import { classifyLink } from './proc/fds.js';
import { readLink, tryReadText } from './proc/read.js';
import type { ProcessInfo } from './processes.js';
import { kcmpFile, type Kernel } from './kernel.js';
import type { EpollInstance, Registration } from './types.js';

export interface EpollFd {
  pid: number;
  fd: number;
  info: FdInfo;
  /** listener inode -> its item. */
  listenerItems: Map<number, EpollItem>;
  /** fds (in the same process) of epoll instances registered inside this one. */
  nested: number[];
}

/** The inode an item targets: `ino:` when printed, else whatever `tfd` links to now. */
export function itemInode(pid: number, item: EpollItem): { socket?: number; epoll: boolean } {
  if (item.ino !== undefined) return { socket: item.ino, epoll: false };
  const link = readLink(`/proc/${pid}/fd/${item.tfd}`);
  if (link === null) return { epoll: false };
  const c = classifyLink(item.tfd, link);
  return { socket: c.socketInode, epoll: c.epoll };
}

export function readEpollFds(pids: number[], all: Map<number, ProcessInfo>, listenerInodes: Set<number>): EpollFd[] {
  const out: EpollFd[] = [];
  for (const pid of pids) {
    for (const f of all.get(pid)?.fds ?? []) {
      if (!f.epoll) continue;
      const text = tryReadText(`/proc/${pid}/fdinfo/${f.fd}`);
      if (text === null) continue;
      const info = parseFdinfo(text);
      const e: EpollFd = { pid, fd: f.fd, info, listenerItems: new Map(), nested: [] };
      for (const item of info.epoll) {
        // An item whose inode is the epoll anon inode itself is a nested epoll fd.
        if (info.ino !== undefined && item.ino === info.ino) {
          e.nested.push(item.tfd);
          continue;
        }
        const t = itemInode(pid, item);
        if (t.epoll) e.nested.push(item.tfd);
        else if (t.socket !== undefined && listenerInodes.has(t.socket)) e.listenerItems.set(t.socket, item);
      }
      out.push(e);
    }
  }
  return out;
}

export interface Grouping {
  instances: EpollInstance[];
  registrations: Registration[];
  /** (pid:fd) -> instance id, for every member fd. */
  byFd: Map<string, number>;
  kcmpError: string | null;
}

const key = (pid: number, fd: number) => `${pid}:${fd}`;

/** Upper bound on kcmp calls; beyond it fds stay in separate groups and the report says so. */
const MAX_KCMP = 20_000;

/**
 * Groups listener-holding epoll fds into instances. Two fds can only be one
 * description if their item lists name the same targets, which prunes most
 * pairs before kcmp is asked.
 */
export function groupInstances(fds: EpollFd[], kernel: Kernel): Grouping {
  const holding = fds.filter((e) => e.listenerItems.size > 0);
  const parent = holding.map((_, i) => i);
  const up = (i: number): number => parent[i] ?? i;
  const find = (i: number): number => {
    while (up(i) !== i) i = parent[i] = up(up(i));
    return i;
  };
  // Listener sets only: a shared instance's other items (connections) may change between two reads.
  const signature = (e: EpollFd) => [...e.listenerItems.keys()].sort((a, b) => a - b).join(',');
  const sigs = holding.map(signature);
  let kcmpError: string | null = null;
  let calls = 0;
  for (const [i, a] of holding.entries()) {
    for (const [j, b] of holding.entries()) {
      if (j <= i || find(i) === find(j) || sigs[i] !== sigs[j]) continue;
      if (a.pid === b.pid && a.fd === b.fd) {
        parent[find(j)] = find(i);
        continue;
      }
      if (++calls > MAX_KCMP) {
        kcmpError ??= `more than ${MAX_KCMP} epoll fd pairs; the rest were not compared`;
        continue;
      }
      const r = kcmpFile(kernel, a.pid, a.fd, b.pid, b.fd);
      if (r === 'same') parent[find(j)] = find(i);
      else if (r !== 'different') kcmpError ??= `kcmp(KCMP_FILE) failed: ${r.error}`;
    }
  }
  const byRoot = new Map<number, EpollInstance>();
  const instances: EpollInstance[] = [];
  const byFd = new Map<string, number>();
  const registrations: Registration[] = [];
  holding.forEach((e, i) => {
    const r = find(i);
    let instance = byRoot.get(r);
    if (instance === undefined) {
      const id = instances.length;
      instance = {
        id,
        members: [],
        listenerInodes: [...e.listenerItems.keys()].sort((a, b) => a - b),
        waiters: [],
        grouping: kcmpError && holding.length > 1 ? 'single' : 'kcmp',
      };
      byRoot.set(r, instance);
      instances.push(instance);
      for (const [inode, item] of e.listenerItems) {
        registrations.push({
          instance: id,
          listenerInode: inode,
          pid: e.pid,
          epfd: e.fd,
          events: item.events,
          armedSamples: 0,
          disarmedSamples: 0,
        });
      }
    }
    instance.members.push({ pid: e.pid, fd: e.fd });
    byFd.set(key(e.pid, e.fd), instance.id);
  });
  return { instances, registrations, byFd, kcmpError };
}

/**
 * The instances a thread waits on when it sleeps in epoll_wait(epfd): the
 * instance itself, or those nested in it (libuv's epoll holding an app's
 * epoll fd, as edgeloop's reactor does).
 */
export function instancesWaitedVia(pid: number, epfd: number, fds: EpollFd[], byFd: Map<string, number>): number[] {
  const direct = byFd.get(key(pid, epfd));
  if (direct !== undefined) return [direct];
  const outer = fds.find((e) => e.pid === pid && e.fd === epfd);
  if (!outer) return [];
  const out: number[] = [];
  for (const tfd of outer.nested) {
    const id = byFd.get(key(pid, tfd));
    if (id !== undefined && !out.includes(id)) out.push(id);
  }
  return out;
}
