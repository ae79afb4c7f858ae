/**
 * A naive accept worker, the loop of the 20-worker field report's `server(epfd)`: block in
 * epoll_wait, optionally sleep, accept (once, or until EAGAIN), hand the
 * connection over. Thread: one worker thread per worker; owns no fd (the
 * server's main thread opened them all and closes them all), only its slab of
 * the counters.
 */
import { workerData } from 'node:worker_threads';
import { native, C } from '../../native/binding.js';
import { Errno } from '../../native/errors.js';
import { Counters } from './counters.js';
import { WAIT_MS, type WorkerSetup } from './config.js';

const EAGAIN = -Errno.EAGAIN;
// The connection died in the queue or a signal interrupted: the queue may hold more.
const RETRY = new Set([-Errno.EINTR, -Errno.ECONNABORTED, -Errno.EPROTO]);

const setup = workerData as WorkerSetup;
const counters = new Counters(setup.workers, setup.counters);
const me = setup.index;
const events = new Int32Array(2 * 64);
const nap = new Int32Array(new SharedArrayBuffer(4));

// The tid doubles as the "started" signal the server waits for.
counters.set(me, 'tid', native.gettid());

const ACCEPTED = 1;
const EMPTY = 0;
const FAILED = -1;

/** Accepts one connection: ACCEPTED, EMPTY (EAGAIN) or FAILED (EMFILE and the like, counted as errors). */
function acceptOne(): number {
  for (;;) {
    const fd = native.accept(setup.listenFd);
    if (fd >= 0) {
      counters.add(me, 'accepted');
      // epoll_ctl is thread-safe (pitfall 7): the responder thread picks it up from here.
      const r = native.epollCtl(setup.responderEpfd, C.EPOLL_CTL_ADD, fd, C.EPOLLIN | C.EPOLLRDHUP, fd);
      if (r < 0) {
        counters.add(me, 'errors');
        native.close(fd);
      }
      return ACCEPTED;
    }
    if (fd === EAGAIN) return EMPTY;
    if (RETRY.has(fd)) continue;
    counters.add(me, 'errors');
    return FAILED;
  }
}

while (!counters.stopRequested) {
  const n = native.epollWait(setup.epfd, events, 64, WAIT_MS);
  // 0: the timeout, so the stop flag gets a look; <0: EINTR.
  if (n <= 0) continue;
  counters.add(me, 'wakeups');
  if (setup.slpMs > 0) Atomics.wait(nap, 0, 0, setup.slpMs);
  const first = acceptOne();
  // Woken for nothing: another worker took the connection first.
  if (first === EMPTY) counters.add(me, 'eagain');
  if (first !== ACCEPTED) continue;
  if (setup.accept === 'drain') while (acceptOne() === ACCEPTED);
}
