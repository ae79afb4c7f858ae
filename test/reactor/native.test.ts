import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, C, SysError, check, errnoName } from '../../src/native/index.js';

test('errors carry errno names and advice', () => {
  const e = new SysError(-98, 'bind', '127.0.0.1:80');
  assert.equal(e.code, 'EADDRINUSE');
  assert.match(e.message, /bind 127\.0\.0\.1:80 failed: EADDRINUSE .*another process/);
  assert.equal(errnoName(-11), 'EAGAIN');
  assert.throws(() => check(-24, 'accept4'), /EMFILE/);
  assert.equal(check(5, 'x'), 5);
});

test('epoll_wait never writes past the events array (maxevents clamped to its size)', () => {
  const ep = native.epollCreate();
  const efds: number[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const fd = native.eventfd();
      efds.push(fd);
      native.eventfdWrite(fd, 1);
      assert.equal(native.epollCtl(ep, C.EPOLL_CTL_ADD, fd, C.EPOLLIN, 1000 + i), 0);
    }
    const backing = new Int32Array(2 * 4 + 2);
    backing.fill(-7);
    const view = backing.subarray(0, 8); // room for 4 events
    const n = native.epollWait(ep, view, 100, 0);
    assert.equal(n, 4);
    assert.deepEqual([...backing.subarray(8)], [-7, -7]);
    for (let i = 0; i < n; i++) assert.ok(view[2 * i + 1]! >= 1000);
    assert.equal(native.epollWait(ep, view, 0, 0), -22); // EINVAL, not a crash
  } finally {
    for (const fd of efds) native.close(fd);
    native.close(ep);
  }
});

test('recv on an empty non-blocking socket is EAGAIN; bad fds are EBADF', () => {
  assert.equal(native.recv(987654, new Uint8Array(4), 0, 4), -9);
  assert.equal(native.send(987654, new Uint8Array(4), 0, 4), -9);
  assert.equal(native.recv(0, new Uint8Array(4), 2, 4), -14); // bounds checked: EFAULT, no overrun
});

test('RLIMIT_NOFILE can be read', () => {
  const r = native.getrlimitNofile();
  assert.ok(Array.isArray(r));
  assert.ok(r[0] > 0);
});

test('EINTR: a signal interrupts a blocking epoll_wait; epollWaitBlocking waits out its time', async (t) => {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/eintrChild.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const until = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 500 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(out, re);
  };
  await until(/ready/);
  await new Promise((r) => setTimeout(r, 200)); // let it enter epoll_wait
  child.kill('SIGUSR2');
  await until(/raw /);
  assert.match(out, /raw EINTR/);
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGUSR2');
  await until(/retried/);
  assert.match(out, /retried 0 after full wait/);
});

test('recvBatch and sendBatch: a result per op (bytes, EOF, -errno), bounds checked; a send after a short one to the same fd is not tried', async () => {
  const lfd = check(native.socket(C.AF_INET), 'socket');
  const fds: number[] = [lfd];
  try {
    check(native.bind(lfd, '127.0.0.1', 0), 'bind');
    check(native.listen(lfd, 8), 'listen');
    const port = (native.getsockname(lfd) as { port: number }).port;
    const cfd = check(native.socket(C.AF_INET), 'socket');
    fds.push(cfd);
    native.connect(cfd, '127.0.0.1', port); // EINPROGRESS on a non-blocking socket
    let sfd = -11;
    for (let i = 0; i < 200 && sfd < 0; i++) {
      sfd = native.accept(lfd);
      if (sfd < 0) await new Promise((r) => setTimeout(r, 5));
    }
    check(sfd, 'accept');
    fds.push(sfd);
    native.setsockopt(cfd, C.SOL_SOCKET, C.SO_SNDBUF, 4096);

    const big = 8 * 1024 * 1024;
    const arena = new Uint8Array(big + 64);
    arena.fill(0x61);
    const ops = new Int32Array(4 * 4);
    ops.set([cfd, 0, big, 0, cfd, big, 10, 0, 987654, 0, 4, 0, cfd, arena.length - 2, 4, 0]);
    native.sendBatch(ops, 4, arena);
    assert.ok(ops[3]! > 0 && ops[3]! < big, `the big send is short (${ops[3]})`);
    assert.equal(ops[7], -11, 'the next send to that fd is not tried: EAGAIN');
    assert.equal(ops[11], -9, 'a bad fd: EBADF');
    assert.equal(ops[15], -14, 'past the arena: EFAULT, no overrun');

    const rops = new Int32Array(3 * 4);
    const into = new Uint8Array(8192);
    rops.set([sfd, 0, 4096, 0, 987654, 4096, 16, 0, sfd, 8190, 16, 0]);
    native.recvBatch(rops, 3, into);
    assert.equal(rops[3], 4096, 'a full slot of what the client sent');
    assert.equal(into[0], 0x61);
    assert.equal(rops[7], -9);
    assert.equal(rops[11], -14);
    assert.throws(() => native.recvBatch(rops, 4, into), RangeError);
  } finally {
    for (const fd of fds) native.close(fd);
  }
});
