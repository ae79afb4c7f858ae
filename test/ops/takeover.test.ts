/**
 * Process takeover through the control socket: the new process receives the
 * listen sockets (SCM_RIGHTS), serves on them, and the old one drains and
 * exits; the port never closes. Also the protocol's error paths and the
 * native descriptor passing underneath.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { native, C } from '../../src/native/binding.js';
import { Errno } from '../../src/native/errors.js';
import { listenTcp } from '../../src/reactor/Listener.js';
import { requestHandover } from '../../src/reactor/control.js';
import { serve } from '../../src/http/index.js';
import { requireTool, sleep, within } from '../helpers.js';
import { exitWithin, loadSummary, startServe, wrk } from './support.js';

const app = new URL('./fixtures/generation-app.js', import.meta.url);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-control-'));
}

test('native: sendFds/recvFds pass a listening socket between Unix sockets; errors are -errno', () => {
  const dir = tempDir();
  const sock = path.join(dir, 's');
  const srv = native.unixSocket();
  const cli = native.unixSocket();
  const l = listenTcp({ host: '127.0.0.1', port: 0 });
  let got: number[] = [];
  try {
    assert.ok(srv >= 0 && cli >= 0);
    assert.equal(native.unixConnect(cli, sock), -Errno.ENOENT);
    assert.equal(native.unixBind(srv, sock), 0);
    assert.equal(native.unixBind(native.unixSocket(), sock), -Errno.EADDRINUSE);
    assert.equal(native.unixBind(srv, 'x'.repeat(200)), -Errno.ENAMETOOLONG);
    assert.equal(native.listen(srv, 4), 0);
    const c2 = native.unixSocket();
    assert.equal(native.unixConnect(c2, sock), 0);
    const peer = native.accept(srv);
    assert.ok(peer >= 0);
    assert.equal(native.recvFds(peer, new Uint8Array(8), 0, 8), -Errno.EAGAIN);
    assert.equal(native.sendFds(c2, new Uint8Array([7]), [l.fd]), 1);
    const r = native.recvFds(peer, new Uint8Array(8), 0, 8);
    assert.ok(typeof r === 'object');
    assert.equal(r.bytes, 1);
    assert.equal(r.truncated, false);
    got = r.fds;
    assert.equal(got.length, 1);
    assert.notEqual(got[0], l.fd, 'a new descriptor');
    assert.equal(native.getsockopt(got[0]!, C.SOL_SOCKET, C.SO_ACCEPTCONN), 1, 'for the same listening socket');
    assert.equal((native.getsockname(got[0]!) as { port: number }).port, l.port);
    assert.equal(native.sendFds(-1, new Uint8Array([1]), []), -Errno.EBADF);
    assert.equal(native.sendFds(c2, new Uint8Array(0), [l.fd]), -Errno.EINVAL);
    assert.equal(native.sendFds(c2, new Uint8Array([1]), new Array(65).fill(l.fd)), -Errno.E2BIG);
    assert.equal(native.recvFds(peer, new Uint8Array(8), 4, 8), -Errno.EFAULT);
    native.close(c2);
    native.close(peer);
  } finally {
    for (const fd of [srv, cli, l.fd, ...got]) native.close(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('requestHandover: nobody there (no file, a stale file) is undefined; garbage and unknown ops do not disturb the running server', async () => {
  const dir = tempDir();
  const ctl = path.join(dir, 'ctl');
  try {
    assert.equal(await requestHandover(ctl), undefined);
    const stale = native.unixSocket();
    native.unixBind(stale, ctl);
    native.close(stale); // a socket file nobody listens on: a process that died
    assert.equal(await requestHandover(ctl), undefined);
    const server = await serve({ port: 0, loops: 1, module: app, control: ctl });
    try {
      assert.equal(fs.statSync(ctl).mode & 0o777, 0o600, 'only the owner can take over');
      for (const garbage of ['not json\n', '{"op":"bogus"}\n', '{"no":"op"}\n', 'x'.repeat(70_000)]) {
        const s = net.connect(ctl);
        s.on('error', () => {}); // the server may reset a peer that sent too much: that is the point
        await new Promise<void>((r) => s.once('connect', () => r()));
        s.end(garbage);
        s.resume();
        await new Promise<void>((r) => s.once('close', () => r()));
      }
      assert.equal((await fetch(server.url)).status, 200, 'still serving');
      assert.equal(server.takenOver, false);
    } finally {
      await server.stop();
    }
    assert.ok(!fs.existsSync(ctl), 'the socket file is removed on stop');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('API: serve({ control }) twice: the second serves on the same port, the first drains (its request in flight finishes) and closes', async () => {
  const dir = tempDir();
  const ctl = path.join(dir, 'ctl');
  const a = await serve({ port: 0, loops: 2, module: app, control: ctl });
  let b: Awaited<ReturnType<typeof serve>> | undefined;
  try {
    const idA = await (await fetch(a.url)).text();
    const slow = fetch(`${a.url}/slow`).then((r) => r.text());
    await sleep(50);
    b = await serve({ port: 0, loops: 2, module: app, control: ctl });
    assert.equal(b.port, a.port, 'the same listen sockets');
    await within(10_000, a.closed, 'the old server closes');
    assert.equal(a.takenOver, true);
    assert.match(await slow, /^slow /);
    const idB = await (await fetch(b.url)).text();
    assert.notEqual(idB, idA);
    assert.ok(fs.existsSync(ctl), 'the new server listens on the control path');
  } finally {
    await a.stop();
    await b?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('edgeloop serve --control: a second process takes over under wrk load: 0 failed, the old one exits 0, the new one serves', async (t) => {
  if (!requireTool(t, 'wrk')) return;
  const dir = tempDir();
  const ctl = path.join(dir, 'ctl');
  const old = await startServe(['--port', '0', '--loops', '2', '--control', ctl]);
  let next: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    const load = wrk(`http://127.0.0.1:${old.port}/hello`, 4);
    await sleep(1000);
    next = await startServe(['--port', '0', '--loops', '2', '--control', ctl]);
    assert.equal(next.port, old.port);
    assert.equal(await within(15_000, old.exit, 'old process exit'), 0);
    assert.match(old.stderr(), /taken over/);
    const r = await load;
    t.diagnostic(`takeover under wrk: ${loadSummary(r)}`);
    assert.ok(r.requests > 1000, r.output);
    assert.equal(r.non2xx, 0, r.output);
    assert.equal(r.socketErrors, 0, r.output);
    assert.equal(await (await fetch(`http://127.0.0.1:${next.port}/healthz`)).text(), 'ok\n');
  } finally {
    old.child.kill('SIGKILL');
    if (next) {
      next.child.kill('SIGTERM');
      assert.equal(await exitWithin(next, 10_000), 0);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
