import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import {
  TcpServer,
  ACCEPT_STRATEGIES,
  type CloseReason,
  type ServerHandlers,
  type TcpConnection,
} from '../../src/reactor/index.js';
import { connectClient, fixture, openFds, roundTrip, sleep, waitFor, within } from '../helpers.js';

const echoHandlers = (): ServerHandlers => ({
  onMessage(conn, buf) {
    if (!conn.send(buf.peek())) conn.pauseReading();
    buf.retrieveAll();
  },
  onDrain(conn) {
    conn.resumeReading();
  },
});

test('single-loop echo, reported address and effective backlog', async () => {
  const server = new TcpServer({ port: 0, loops: 1, handlers: echoHandlers() });
  const info = await server.listen();
  try {
    assert.equal(info.host, '127.0.0.1');
    assert.ok(info.port > 0);
    assert.ok(info.backlog > 0);
    const got = await within(5000, roundTrip(info.port, 'hello edgeloop'));
    assert.equal(got.toString(), 'hello edgeloop');
    await waitFor(() => server.stats()[0]!.closed.peer === 1, 2000, 'close counted');
    const s = server.stats()[0]!;
    assert.equal(s.accepted, 1);
    assert.equal(s.active, 0);
    assert.equal(s.bytesIn, 14);
    assert.equal(s.bytesOut, 14);
  } finally {
    await server.stop();
  }
});

test('a half-closed peer still gets its whole reply (pitfall 4)', async () => {
  // Replies only after the peer's FIN, from a timer: the write side must still be open.
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onMessage(conn, buf) {
        conn.context = ((conn.context as string) ?? '') + buf.retrieveAllAsString();
      },
      onPeerHalfClose(conn) {
        conn.loop.runAfter(20, () => {
          conn.send(`got:${conn.context as string}`);
          conn.shutdown();
        });
      },
    },
  });
  const { port } = await server.listen();
  try {
    const got = await within(5000, roundTrip(port, 'request-body'));
    assert.equal(got.toString(), 'got:request-body');
  } finally {
    await server.stop();
  }
});

test('peer reset while the server writes: EPIPE/ECONNRESET close it, no SIGPIPE (pitfall 9)', async () => {
  const reasons: CloseReason[] = [];
  const chunk = new Uint8Array(256 * 1024);
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onConnection(conn) {
        const pump = (): void => {
          while (!conn.isClosed && conn.send(chunk)) {
            /* fill to the high-water mark */
          }
        };
        conn.highWaterMark = 1024 * 1024;
        conn.context = pump;
        pump();
      },
      onDrain(conn) {
        (conn.context as () => void)();
      },
      onClose(_c, reason) {
        reasons.push(reason);
      },
    },
  });
  const { port } = await server.listen();
  try {
    for (let i = 0; i < 5; i++) {
      const s = await connectClient(port);
      await new Promise<void>((r) => s.once('data', () => r()));
      s.resetAndDestroy();
    }
    await waitFor(() => reasons.length === 5, 5000, 'five closes');
    assert.ok(reasons.every((r) => r === 'reset' || r === 'peer'), reasons.join(','));
    assert.ok(reasons.includes('reset'));
    // still serving
    server.stats();
  } finally {
    await server.stop({ timeout: 1000 });
  }
});

test('no fd and no connection left after churn (pitfall 11)', async () => {
  const live = new Set<TcpConnection>();
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onConnection(c) {
        live.add(c);
      },
      onMessage(conn, buf) {
        const text = buf.retrieveAllAsString();
        conn.send(text);
        // half the connections are closed by the server, half by the client
        if (text.startsWith('server-closes')) conn.close();
      },
      onClose(c) {
        live.delete(c);
      },
    },
  });
  const { port } = await server.listen();
  try {
    await roundTrip(port, 'warm-up');
    await waitFor(() => live.size === 0, 2000, 'warm-up closed');
    const before = openFds();
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          within(5000, new Promise<void>((resolve, reject) => {
            const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(i % 2 ? 'server-closes' : 'client-closes'));
            s.on('data', () => {
              if (i % 2 === 0) s.end();
            });
            s.on('close', () => resolve());
            s.on('error', reject);
          })),
        ),
      );
    }
    await waitFor(() => live.size === 0, 5000, 'all connections released');
    await waitFor(() => openFds() <= before, 5000, 'fd count back to baseline');
    const s = server.stats()[0]!;
    assert.equal(s.active, 0);
    assert.equal(s.accepted, 501);
    const closed = Object.values(s.closed).reduce((a, b) => a + b, 0);
    assert.equal(closed, 501);
  } finally {
    await server.stop();
  }
});

test('bad arguments give clear errors: port in use, bad host, bad port, bad loops', async () => {
  const a = new TcpServer({ port: 0, loops: 1, handlers: {} });
  const { port } = await a.listen();
  try {
    const b = new TcpServer({ port, loops: 1, handlers: {} });
    await assert.rejects(b.listen(), (e: Error & { code?: string }) => e.code === 'EADDRINUSE' && /bind 127\.0\.0\.1:\d+ failed: EADDRINUSE/.test(e.message));
    const c = new TcpServer({ port: 0, host: 'no-such-host.invalid', loops: 1, handlers: {} });
    await assert.rejects(c.listen(), /invalid host 'no-such-host\.invalid'/);
    const d = new TcpServer({ port: 0, host: '192.0.2.1', loops: 1, handlers: {} });
    await assert.rejects(d.listen(), (e: Error & { code?: string }) => e.code === 'EADDRNOTAVAIL');
    assert.throws(() => new TcpServer({ port: 70000, handlers: {} }), /invalid port 70000/);
    assert.throws(() => new TcpServer({ port: 0, loops: 0, handlers: {} }), /invalid loops 0/);
    assert.throws(() => new TcpServer({ port: 0, loops: 2, handlers: {} }), /module loaded in every loop thread/);
    assert.throws(() => new TcpServer({ port: 0, loops: 1, accept: 'bogus' as never, handlers: {} }), /invalid accept strategy/);
  } finally {
    await a.stop();
  }
});

for (const accept of ACCEPT_STRATEGIES) {
  test(`2,000 concurrent clients over 2 loops, accept=${accept}`, async () => {
    const counters = new SharedArrayBuffer(16);
    const server = new TcpServer({ port: 0, loops: 2, accept, module: fixture('echo.js'), moduleOptions: { counters } });
    const { port } = await server.listen();
    try {
      const N = 2000;
      const sockets: net.Socket[] = [];
      const replies = await within(30_000, Promise.all(
        Array.from({ length: N }, (_, i) =>
          new Promise<string>((resolve, reject) => {
            let got = '';
            const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(`client-${i}`));
            sockets.push(s);
            s.setEncoding('utf8');
            s.on('data', (d: string) => {
              got += d;
              if (got.length >= `client-${i}`.length) resolve(got);
            });
            s.on('error', reject);
          }),
        ),
      ), '2,000 echoes');
      replies.forEach((r, i) => assert.equal(r, `client-${i}`));
      const stats = server.stats();
      const accepted = stats.reduce((a, s) => a + s.accepted, 0);
      // with a dispatcher, its own slab counts the accepts and the I/O loops count the hand-offs
      assert.equal(accepted, accept === 'dispatcher' ? 2 * N : N);
      const ioLoops = stats.slice(0, 2);
      assert.equal(ioLoops.reduce((a, s) => a + s.active, 0), N);
      for (const s of sockets) s.destroy();
      const c = new Int32Array(counters);
      await waitFor(() => Atomics.load(c, 1) === N, 10_000, 'all closed');
      assert.equal(Atomics.load(c, 2), 0, 'no connection closed twice');
    } finally {
      await server.stop();
    }
  });
}

test('16 MiB streams echo byte-exact and in order across loops', async () => {
  for (const accept of ['reuseport', 'dispatcher'] as const) {
    const server = new TcpServer({ port: 0, loops: 2, accept, module: fixture('echo.js') });
    const { port } = await server.listen();
    try {
      const payloads = Array.from({ length: 3 }, () => crypto.randomBytes(16 * 1024 * 1024));
      const results = await within(60_000, Promise.all(payloads.map((p) => roundTrip(port, p))), '16 MiB echoes');
      results.forEach((r, i) => {
        assert.equal(r.length, payloads[i]!.length);
        assert.ok(r.equals(payloads[i]!), `stream ${i} differs (accept=${accept})`);
      });
    } finally {
      await server.stop();
    }
  }
});

test('exactly-once close under churn: thousands of peers closing while the server writes (pitfall 3)', async () => {
  const counters = new SharedArrayBuffer(16);
  const server = new TcpServer({ port: 0, loops: 2, module: fixture('echo.js'), moduleOptions: { counters } });
  const { port } = await server.listen();
  const c = new Int32Array(counters);
  try {
    let done = 0;
    const payload = Buffer.alloc(64 * 1024, 7);
    for (let round = 0; round < 10; round++) {
      await within(20_000, Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          new Promise<void>((resolve) => {
            const s = net.connect({ port, host: '127.0.0.1' }, () => {
              s.write(payload);
              // a third reset at once, a third close gracefully, a third wait for data first
              if (i % 3 === 0) s.resetAndDestroy();
              else if (i % 3 === 1) s.end();
            });
            s.on('data', () => {
              if (i % 3 === 2) s.destroy();
            });
            s.on('close', () => {
              done++;
              resolve();
            });
            s.on('error', () => {});
          }),
        ),
      ), `churn round ${round}`);
    }
    assert.equal(done, 2000);
    await waitFor(() => Atomics.load(c, 1) === Atomics.load(c, 0) && Atomics.load(c, 0) === 2000, 10_000, 'server closes');
    assert.equal(Atomics.load(c, 2), 0, 'no double close');
    assert.equal(Atomics.load(c, 3), 2000, 'onClose called once per connection');
    const stats = server.stats();
    const closed = stats.reduce((a, s) => a + Object.values(s.closed).reduce((x, y) => x + y, 0), 0);
    assert.equal(closed, 2000);
    assert.equal(stats.reduce((a, s) => a + s.active, 0), 0);
  } finally {
    await server.stop();
  }
});

test('rapid reconnect with fd reuse: no byte reaches the wrong connection (pitfall 10)', async () => {
  const server = new TcpServer({ port: 0, loops: 1, handlers: echoHandlers() });
  const { port } = await server.listen();
  try {
    for (let round = 0; round < 20; round++) {
      await within(10_000, Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const token = `${round}:${i}:${crypto.randomBytes(8).toString('hex')}`;
          return roundTrip(port, token).then((got) => assert.equal(got.toString(), token));
        }),
      ), `round ${round}`);
    }
  } finally {
    await server.stop();
  }
});

test('graceful stop drains in-flight connections, then force-closes after the timeout', async () => {
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onMessage(_conn, buf) {
        buf.retrieveAll(); // never answers
      },
      onStop() {
        // ignore the stop request: only the timeout can end these
      },
    },
  });
  const { port } = await server.listen();
  const s = await connectClient(port);
  s.on('error', () => {});
  s.write('x');
  await sleep(50);
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  await within(5000, server.stop({ timeout: 200 }), 'stop');
  await within(2000, closed, 'client sees the close');
  assert.equal(server.stats()[0]!.closed.shutdown, 1);
});

test('a throwing handler closes its connection only; the loop thread keeps serving', async () => {
  const server = new TcpServer({ port: 0, loops: 2, module: fixture('throwing.js') });
  const { port } = await server.listen();
  try {
    for (const what of ['throw', 'reject', 'timer', 'throw', 'reject', 'timer']) {
      await within(5000, roundTrip(port, what).catch(() => Buffer.alloc(0)), what);
    }
    await sleep(50);
    for (let i = 0; i < 10; i++) {
      assert.equal((await within(5000, roundTrip(port, `fine${i}`))).toString(), `ok:fine${i}`);
    }
    assert.ok(server.stats().reduce((a, s) => a + s.closed.error, 0) >= 2);
  } finally {
    await server.stop();
  }
});
