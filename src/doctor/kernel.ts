/**
 * The two kernel interfaces /proc lacks, through edgeloop's native addon.
 * Thread: any. Loaded lazily so that doctor still reports what /proc shows
 * when the addon is not built (it then says what it could not check).
 */
import type { InetDiagSocket, NativeBinding } from '../native/binding.js';
// errno.ts and inetDiag.ts do not load the addon: doctor must run (and say what it missed) without it.
import { errnoName } from '../native/errno.js';
import { states, tcpSockets, TcpState } from '../native/inetDiag.js';

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

/** All LISTEN sockets of the caller's network namespace, by inode. */
export function listenSockets(k: Kernel): Map<number, InetDiagSocket> {
  if (!k.native) throw new Error(k.unavailableReason ?? 'native addon unavailable');
  return new Map(tcpSockets(k.native, states(TcpState.LISTEN)).map((s) => [s.inode, s]));
}

export type KcmpResult = 'same' | 'different' | { error: string };

export function kcmpFile(k: Kernel, pid1: number, fd1: number, pid2: number, fd2: number): KcmpResult {
  if (!k.native) return { error: k.unavailableReason ?? 'native addon unavailable' };
  const r = k.native.kcmpFile(pid1, pid2, fd1, fd2);
  if (r === 0) return 'same';
  if (r > 0) return 'different';
  return { error: errnoName(r) };
}
