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
