/**
 * Blocking waits for threads that are allowed to block (the lab's naive
 * workers; never an EventLoop thread). Thread: the caller's. Owns nothing.
 */
import { native } from './binding.js';
import { Errno, SysError } from './errors.js';

/**
 * epoll_wait that survives signals: EINTR (a signal handler ran) is not an
 * error, so wait again for the time that is left. Returns the event count.
 */
export function epollWaitBlocking(epfd: number, events: Int32Array, max: number, timeoutMs: number): number {
  const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
  for (;;) {
    const left = deadline === Infinity ? -1 : Math.max(0, deadline - Date.now());
    const n = native.epollWait(epfd, events, max, left);
    if (n >= 0) return n;
    if (n !== -Errno.EINTR) throw new SysError(n, 'epoll_wait');
    if (left === 0) return 0;
  }
}
