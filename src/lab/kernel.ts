/**
 * What the kernel says about the lab's sockets: accept queues and backlogs
 * (inet_diag), the listen-overflow counters (/proc/net/netstat), and which fds
 * of this process are TCP sockets on a port. Thread: any. Owns nothing.
 */
import fs from 'node:fs';
import { native } from '../native/binding.js';
import { ALL_STATES, states, tcpSockets, TcpState } from '../native/inetDiag.js';
import { parseNetstat } from '../doctor/proc/netstat.js';

export interface ListenOverflowCounters {
  /** TcpExt ListenOverflows: SYNs or handshake ACKs dropped because an accept queue was full. */
  overflows: number;
  /** TcpExt ListenDrops: every drop at a listener, overflows included. */
  drops: number;
}

/**
 * The counters are per network namespace, not per socket: anything else on
 * this machine that overflows a queue during a scenario shows up in its delta.
 */
export function listenCounters(): ListenOverflowCounters {
  const c = parseNetstat(fs.readFileSync('/proc/net/netstat', 'utf8'));
  return { overflows: c.TcpExt?.ListenOverflows ?? 0, drops: c.TcpExt?.ListenDrops ?? 0 };
}

export function delta(a: ListenOverflowCounters, b: ListenOverflowCounters): ListenOverflowCounters {
  return { overflows: b.overflows - a.overflows, drops: b.drops - a.drops };
}

export interface ListenerQueue {
  inode: number;
  /** Connections waiting in the accept queue. */
  queued: number;
  /** The effective backlog (after the somaxconn cap). */
  backlog: number;
}

/** Every listener on the port, IPv4 and IPv6 (several with SO_REUSEPORT). */
export function listenersOn(port: number): ListenerQueue[] {
  return tcpSockets(native, states(TcpState.LISTEN))
    .filter((s) => s.localPort === port)
    .map((s) => ({ inode: s.inode, queued: s.rqueue, backlog: s.wqueue }));
}

/** Sockets on the port in any state but TIME_WAIT (which the kernel owns, not a process). */
export function liveSocketsOn(port: number): { state: number; inode: number }[] {
  return tcpSockets(native, ALL_STATES & ~states(TcpState.TIME_WAIT))
    .filter((s) => s.localPort === port || s.remotePort === port)
    .map((s) => ({ state: s.state, inode: s.inode }));
}

/** The fds of this process that are sockets, by inode. */
export function socketFds(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // closed while we looked (the readdir fd itself)
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) out.set(Number(m[1]), Number(name));
  }
  return out;
}

/** The fds of this process that are TCP sockets with the given local port. */
export function fdsOnPort(port: number): number[] {
  const inodes = new Set(
    tcpSockets(native, ALL_STATES)
      .filter((s) => s.localPort === port)
      .map((s) => s.inode),
  );
  const out: number[] = [];
  for (const [inode, fd] of socketFds()) if (inodes.has(inode)) out.push(fd);
  return out.sort((a, b) => a - b);
}

/**
 * Sockets and epoll instances this process holds. Node itself opens and
 * closes pipes and eventfds as it pleases, so only these two kinds are
 * compared before and after a scenario.
 */
export function netFdCount(): { sockets: number; epolls: number } {
  let sockets = 0;
  let epolls = 0;
  for (const name of fs.readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue;
    }
    if (link.startsWith('socket:')) sockets++;
    else if (link === 'anon_inode:[eventpoll]') epolls++;
  }
  return { sockets, epolls };
}

export function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

export function somaxconn(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim()) || 4096;
  } catch {
    return 4096;
  }
}
