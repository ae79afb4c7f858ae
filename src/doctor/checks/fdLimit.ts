/** Open fds against RLIMIT_NOFILE (pitfalls 11 and 14). */
import type { DoctorData, Finding } from '../types.js';

export function checkFdLimit(d: DoctorData): Finding[] {
  const out: Finding[] = [];
  for (const u of d.fdUsage) {
    if (!Number.isFinite(u.soft) || u.soft <= 0) continue;
    const ratio = u.open / u.soft;
    if (ratio <= 0.8) continue;
    out.push({
      code: 'FD_NEAR_LIMIT',
      severity: ratio >= 0.95 ? 'error' : 'warning',
      message: `pid ${u.pid} (${u.comm}) has ${u.open} fds open of its soft limit ${u.soft} (${Math.round(ratio * 100)}%)`,
      evidence: { pid: u.pid, comm: u.comm, open: u.open, soft: u.soft, hard: Number.isFinite(u.hard) ? u.hard : 'unlimited' },
      why:
        'at the limit accept() fails with EMFILE; a level-triggered listener then spins at 100% CPU, and leaked ' +
        'connections (closed by the peer, never by the app) are the usual cause',
      fix: 'look for leaked sockets (CLOSE_WAIT) first; raise the limit (ulimit -n, LimitNOFILE=) and keep a reserve fd to shed connections on EMFILE',
      pitfalls: [11, 14],
    });
  }
  return out;
}
