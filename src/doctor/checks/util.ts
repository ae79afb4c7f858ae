/** Helpers the checks share: naming listeners and processes in evidence. */
import type { DoctorData, Listener } from '../types.js';

export function listenerName(l: Listener): string {
  const host = l.family === 'IPv6' ? `[${l.address}]` : l.address;
  return `${host}:${l.port}`;
}

export function listenerByInode(d: DoctorData, inode: number): Listener | undefined {
  return d.listeners.find((l) => l.inode === inode);
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
