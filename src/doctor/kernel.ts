/**
 * The two kernel interfaces /proc lacks, through edgeloop's native addon.
 * Thread: any. Loaded lazily so that doctor still reports what /proc shows
 * when the addon is not built (it then says what it could not check).
 */
import type { InetDiagSocket, NativeBinding } from '../native/binding.js';
import os from 'node:os';

// Not errors.ts: it loads the addon at import time, and doctor must run without it.
const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(os.constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);
errnoNames.set(os.constants.errno.EAGAIN, 'EAGAIN');
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

const AF_INET = 2;
const AF_INET6 = 10;
const LISTEN_MASK = 1 << 10;

export interface Kernel {
  /** null when the addon could not be loaded, with the reason. */
  native: NativeBinding | null;
  unavailableReason: string | null;
}

export async function loadKernel(): Promise<Kernel> {
  try {
    const mod = await import('../native/binding.js');
    const n = mod.native;
    if (typeof n.inetDiag !== 'function' || typeof n.kcmpFile !== 'function') {
      return { native: null, unavailableReason: 'the native addon predates inetDiag/kcmpFile: rebuild it (npx node-gyp rebuild)' };
    }
    return { native: n, unavailableReason: null };
  } catch (err) {
    return { native: null, unavailableReason: err instanceof Error ? err.message : String(err) };
  }
}

export class KernelError extends Error {
  readonly code: string;
  constructor(what: string, errno: number) {
    super(`${what} failed: ${errnoName(errno)}`);
    this.name = 'KernelError';
    this.code = errnoName(errno);
  }
}

/** All LISTEN sockets of the caller's network namespace, by inode. */
export function listenSockets(k: Kernel): Map<number, InetDiagSocket> {
  const out = new Map<number, InetDiagSocket>();
  if (!k.native) throw new Error(k.unavailableReason ?? 'native addon unavailable');
  for (const family of [AF_INET, AF_INET6]) {
    const r = k.native.inetDiag(family, LISTEN_MASK);
    if (typeof r === 'number') {
      // A kernel without IPv6 answers the AF_INET6 dump with an error; IPv4 alone still counts.
      if (family === AF_INET6 && r < 0) continue;
      throw new KernelError(`inet_diag dump (${family === AF_INET ? 'AF_INET' : 'AF_INET6'})`, r);
    }
    for (const s of r) out.set(s.inode, s);
  }
  return out;
}

export type KcmpResult = 'same' | 'different' | { error: string };

export function kcmpFile(k: Kernel, pid1: number, fd1: number, pid2: number, fd2: number): KcmpResult {
  if (!k.native) return { error: k.unavailableReason ?? 'native addon unavailable' };
  const r = k.native.kcmpFile(pid1, pid2, fd1, fd2);
  if (r === 0) return 'same';
  if (r > 0) return 'different';
  return { error: errnoName(r) };
}
