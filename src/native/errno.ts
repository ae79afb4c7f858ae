/**
 * The one errno table: names for the numbers the kernel returns. Thread: any.
 * Owns nothing. Kept apart from errors.ts (which loads the addon for
 * strerror) so that tools that must run without the addon, like doctor, can
 * name errnos too.
 */
// Named, not default: this import reaches the published .d.ts, and node10 consumers without esModuleInterop reject a default one.
import { constants } from 'node:os';

const names = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) {
  if (!names.has(num)) names.set(num, name);
}
// Prefer the common spelling where two names share a number.
names.set(constants.errno.EAGAIN, 'EAGAIN');

export const Errno = constants.errno;

/** 'EAGAIN' for 11 or -11; 'E<n>' for a number this table does not know. */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}
