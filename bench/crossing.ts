/**
 * The cost of one JS -> C crossing, alone and with a cheap syscall behind it.
 * Run: npm run bench:crossing. Prints ns per call; figures go in the README.
 */
import { native, C } from '../src/native/index.js';

function measure(name: string, n: number, fn: () => void): number {
  for (let i = 0; i < 10_000; i++) fn(); // warm up the JIT
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${name.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns/call`);
  return ns;
}

const fd = native.socket(C.AF_INET);
const buf = new Uint8Array(64);
const ep = native.epollCreate();
const events = new Int32Array(512);
const noop = measure('noop() (crossing only)', 5_000_000, () => native.noop());
const recv = measure('recv() on an empty socket (crossing + syscall)', 1_000_000, () => native.recv(fd, buf, 0, 64));
measure('epoll_wait(timeout 0) on an empty set', 1_000_000, () => native.epollWait(ep, events, 256, 0));
measure('getsockopt(SO_ERROR)', 1_000_000, () => native.getsockopt(fd, C.SOL_SOCKET, C.SO_ERROR));
console.log(`\ncrossing share of a cheap syscall: ${((noop / recv) * 100).toFixed(0)}%`);
native.close(fd);
native.close(ep);
