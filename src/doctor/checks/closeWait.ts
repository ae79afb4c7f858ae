/**
 * CLOSE_WAIT: the peer closed and the target has not (pitfalls 1 and 11).
 * Recv-Q counts unread payload plus one for a FIN not yet read; inode 0 means
 * the connection still sits in an accept queue, never accepted.
 */
import { counterDelta } from '../proc/netstat.js';
import type { TcpRow } from '../proc/netTcp.js';
import type { DoctorData, Finding } from '../types.js';
import { plural } from '../../cli/format.js';

const rowKey = (r: TcpRow) => `${r.inode}|${r.localAddress}|${r.localPort}|${r.remoteAddress}|${r.remotePort}`;

export function summarizeCloseWait(rows: TcpRow[]) {
  const unread = rows.filter((r) => r.rxQueue > 0);
  return {
    total: rows.length,
    withUnreadBytes: unread.length,
    unreadBytes: unread.reduce((s, r) => s + r.rxQueue, 0),
    neverAccepted: rows.filter((r) => r.inode === 0).length,
  };
}

export function checkCloseWait(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  const { start, end } = d.closeWait;
  const startKeys = new Set(start.map(rowKey));
  const persistent = end.filter((r) => startKeys.has(rowKey(r)));
  const aborts = d.counters.start && d.counters.end ? counterDelta(d.counters.start, d.counters.end, 'TcpExt', 'TCPAbortOnClose') : null;
  if (end.length > 0) {
    const s = summarizeCloseWait(end);
    const p = summarizeCloseWait(persistent);
    const examples = end.slice(0, 8).map((r) => ({
      local: `${r.localAddress}:${r.localPort}`,
      remote: `${r.remoteAddress}:${r.remotePort}`,
      recvQ: r.rxQueue,
      inode: r.inode,
    }));
    const stuck = persistent.length > 0;
    out.push({
      code: 'CLOSE_WAIT_UNREAD',
      severity: stuck ? 'error' : 'info',
      message:
        `${plural(s.total, 'socket')} of the target in CLOSE_WAIT: ${s.withUnreadBytes} with unread bytes (Recv-Q total ${s.unreadBytes}, a FIN counts as 1), ` +
        `${s.neverAccepted} never accepted (inode 0)` +
        (stuck ? `; ${persistent.length} stayed through the whole ${d.seconds.toFixed(1)} s sample` : '; none persisted through the sample'),
      evidence: {
        ...s,
        persistent: p,
        TCPAbortOnClose: aborts,
        examples,
      },
      why:
        'the peer has closed and the application neither read to EOF nor closed the socket: never-accepted ones mean ' +
        'the listener stopped being drained (edge-triggered listener, one accept per wakeup); accepted ones leak an fd each',
      fix:
        'drain accept() to EAGAIN on every wakeup; read until recv() returns 0 and then close; make closing one code path that ' +
        'deregisters, closes the fd and frees the state',
      pitfalls: [1, 11],
    });
  }
  if ((aborts ?? 0) > 0) {
    out.push({
      code: 'ABORT_ON_CLOSE',
      severity: 'info',
      message: `TCPAbortOnClose grew by ${aborts} in ${d.seconds.toFixed(1)} s in the target's network namespace: sockets were closed with unread data (the peer got RST)`,
      evidence: { TCPAbortOnClose: aborts, seconds: Number(d.seconds.toFixed(2)) },
      why: 'closing with unread bytes resets the connection: the peer may lose the response it was about to read',
      fix: 'read the request (or shut down the write side and drain) before close(); namespace-wide counter, other processes may contribute',
      pitfalls: [11],
    });
  }
  return out;
}
