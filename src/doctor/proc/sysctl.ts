/**
 * The kernel settings that bound accept queues. They are read from /proc/sys,
 * which shows the reader's network namespace: for a target in another
 * namespace they may differ (reported as such).
 */
import { tryReadText } from './read.js';

export interface NetSysctls {
  somaxconn: number | null;
  tcpMaxSynBacklog: number | null;
  syncookies: number | null;
  tcpAbortOnOverflow: number | null;
}

function num(path: string): number | null {
  const t = tryReadText(path);
  if (t === null) return null;
  const v = Number(t.trim());
  return Number.isFinite(v) ? v : null;
}

export function readNetSysctls(root = '/proc/sys'): NetSysctls {
  return {
    somaxconn: num(`${root}/net/core/somaxconn`),
    tcpMaxSynBacklog: num(`${root}/net/ipv4/tcp_max_syn_backlog`),
    syncookies: num(`${root}/net/ipv4/tcp_syncookies`),
    tcpAbortOnOverflow: num(`${root}/net/ipv4/tcp_abort_on_overflow`),
  };
}
