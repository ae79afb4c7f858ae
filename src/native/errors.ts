/**
 * Named errors for negative errno results. Thread: any. Owns nothing.
 * Messages say what failed, the kernel's word for it, and what to do.
 */
import { native } from './binding.js';
import { errnoName } from './errno.js';

export { Errno, errnoName } from './errno.js';

const hints: Record<string, string> = {
  EADDRINUSE: 'another process (or another edgeloop server) is listening on that address; pick another port or stop it',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s interfaces; use 127.0.0.1, 0.0.0.0, ::1 or ::',
  EACCES: 'ports below 1024 need root or CAP_NET_BIND_SERVICE',
  EMFILE: 'the process hit RLIMIT_NOFILE; raise it (ulimit -n) or close idle connections',
  ENFILE: 'the system-wide file table is full (fs.file-max)',
  ECONNREFUSED: 'nothing is listening on that address and port',
  ETIMEDOUT: 'no answer in time: the peer is down, filtered, or its accept queue is full',
  EINVAL: 'an argument was rejected by the kernel',
};

export class SysError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(errno: number, syscall: string, detail?: string) {
    const code = errnoName(errno);
    const hint = hints[code];
    super(
      `${syscall}${detail ? ` ${detail}` : ''} failed: ${code} (${native.strerror(errno)})` +
        (hint ? `: ${hint}` : ''),
    );
    this.name = 'SysError';
    this.code = code;
    this.errno = -Math.abs(errno);
    this.syscall = syscall;
  }
}

/** Returns r when it is a result, throws a SysError when it is a negative errno. */
export function check(r: number, syscall: string, detail?: string): number {
  if (r < 0) throw new SysError(r, syscall, detail);
  return r;
}
