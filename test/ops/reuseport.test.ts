/**
 * A reuseport group only edgeloop takes from: any socket of the same user
 * that sets SO_REUSEPORT can join the port's group; without a steering
 * program it silently takes a share of the connections, with edgeloop's
 * (SO_ATTACH_REUSEPORT_CBPF, the first N sockets) it takes none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { native } from '../../src/native/binding.js';
import { Errno } from '../../src/native/errors.js';
import { listenTcp } from '../../src/reactor/Listener.js';
import { reuseportSteering } from '../../src/reactor/bpf.js';
import { serve } from '../../src/http/index.js';
import { within } from '../helpers.js';

const demo = new URL('../../src/http/demo.js', import.meta.url);

function connectAll(port: number, n: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    })),
  );
}

function drain(fd: number): number {
  let n = 0;
  for (let c; (c = native.accept(fd)) >= 0; n++) native.close(c);
  return n;
}

test('without a steering program a foreign SO_REUSEPORT socket joining the group takes a share', async () => {
  const a = listenTcp({ host: '127.0.0.1', port: 0, reusePort: true, newGroup: true });
  const b = listenTcp({ host: '127.0.0.1', port: a.port, reusePort: true });
  const foreign = listenTcp({ host: '127.0.0.1', port: a.port, reusePort: true });
  const clients = await within(10_000, connectAll(a.port, 120), 'connects');
  try {
    const taken = drain(foreign.fd);
    assert.ok(taken > 0, `the foreign socket took ${taken} of 120`);
    assert.equal(drain(a.fd) + drain(b.fd) + taken, 120);
  } finally {
    for (const s of clients) s.destroy();
    for (const fd of [a.fd, b.fd, foreign.fd]) native.close(fd);
  }
});

test("edgeloop's group (--loops 2): a foreign socket that joins later gets no connection; every request is answered", async () => {
  const server = await serve({ port: 0, loops: 2, accept: 'reuseport', module: demo });
  const foreign = listenTcp({ host: '127.0.0.1', port: server.port, reusePort: true });
  try {
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${server.url}/hello`, { headers: { connection: 'close' } });
      assert.equal(await r.text(), 'hello');
    }
    assert.equal(native.accept(foreign.fd), -Errno.EAGAIN, 'nothing reached the foreign socket');
    const accepted = server.stats().reduce((n, l) => n + l.accepted, 0);
    assert.ok(accepted >= 100);
  } finally {
    native.close(foreign.fd);
    await server.stop();
  }
});

test('reuseportSteering: one socket returns index 0; bad sizes are refused', () => {
  assert.deepEqual([...reuseportSteering(1)], [0x06, 0]);
  assert.equal(reuseportSteering(4).length, 6);
  assert.throws(() => reuseportSteering(0), /positive integer/);
  assert.throws(() => reuseportSteering(1.5), /positive integer/);
});
