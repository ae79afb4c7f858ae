/**
 * The one inet_diag reader: the TCP sockets of this network namespace in the
 * given states, IPv4 and IPv6. Thread: any. Owns nothing. The binding is a
 * parameter, so a tool that loads the addon lazily (doctor) can use it too.
 */
import type { InetDiagSocket, NativeBinding } from './binding.js';
import { errnoName } from './errno.js';

const AF_INET = 2;
const AF_INET6 = 10;

/** TCP states as the kernel numbers them (include/net/tcp_states.h). */
export const TcpState = { ESTABLISHED: 1, TIME_WAIT: 6, CLOSE_WAIT: 8, LISTEN: 10 } as const;

/** The inet_diag state mask of these states. */
export const states = (...s: number[]): number => s.reduce((mask, st) => mask | (1 << st), 0);
export const ALL_STATES = 0xfff;

/** An inet_diag dump the kernel refused: which family, and the errno's name. */
export class InetDiagError extends Error {
  readonly code: string;
  constructor(family: number, errno: number) {
    super(`inet_diag dump (${family === AF_INET ? 'AF_INET' : 'AF_INET6'}) failed: ${errnoName(errno)}`);
    this.name = 'InetDiagError';
    this.code = errnoName(errno);
  }
}

/** Every TCP socket in `stateMask`, IPv4 then IPv6. Throws InetDiagError when the IPv4 dump fails. */
export function tcpSockets(binding: Pick<NativeBinding, 'inetDiag'>, stateMask: number): InetDiagSocket[] {
  const out: InetDiagSocket[] = [];
  for (const family of [AF_INET, AF_INET6]) {
    const r = binding.inetDiag(family, stateMask);
    if (typeof r === 'number') {
      // A kernel without IPv6 answers the AF_INET6 dump with an error; IPv4 alone still counts.
      if (family === AF_INET6) continue;
      throw new InetDiagError(family, r);
    }
    for (const s of r) out.push(s);
  }
  return out;
}
