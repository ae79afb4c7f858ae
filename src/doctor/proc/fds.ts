/**
 * The fd table of a process, from /proc/PID/fd links: socket inodes and epoll
 * instances are what doctor needs. Throws ProcError (EACCES when the process
 * belongs to another user and we are not root).
 */
import { readDir, readLink } from './read.js';

export interface FdEntry {
  fd: number;
  link: string;
  /** Set for "socket:[N]". */
  socketInode?: number;
  /** "anon_inode:[eventpoll]": an epoll instance (all share one inode). */
  epoll: boolean;
}

export function classifyLink(fd: number, link: string): FdEntry {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  const e: FdEntry = { fd, link, epoll: link === 'anon_inode:[eventpoll]' };
  if (m) e.socketInode = Number(m[1]);
  return e;
}

export function listFds(pid: number): FdEntry[] {
  const out: FdEntry[] = [];
  for (const name of readDir(`/proc/${pid}/fd`)) {
    const fd = Number(name);
    if (!Number.isInteger(fd)) continue;
    const link = readLink(`/proc/${pid}/fd/${name}`);
    if (link !== null) out.push(classifyLink(fd, link));
  }
  return out;
}
