import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { native } from '../../src/native/index.js';
import {
  ConnectionPool,
  EventLoop,
  TcpClient,
  TcpServer,
  connect,
  type TcpConnection,
} from '../../src/reactor/index.js';
import { LoopQueue, QueueMsg } from '../../src/reactor/LoopQueue.js';
import { listenTcp } from '../../src/reactor/Listener.js';
import { listenOnV6Loopback, waitFor, within } from '../helpers.js';

const echo = {
  onMessage(conn: TcpConnection, buf: { peek(): Uint8Array; retrieveAll(): void }) {
    conn.send(buf.peek());
    buf.retrieveAll();
  },
};

function request(conn: TcpConnection, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    conn.setHandlers({
      onMessage(_c, buf) {
        got += buf.retrieveAllAsString();
        if (got.length >= text.length) resolve(got);
      },
    });
    conn.send(text);
  });
}

test('connect: refused is ECONNREFUSED, a full accept queue is ETIMEDOUT', async () => {
  const loop = new EventLoop();
  // a listener that never accepts, backlog 0: the kernel keeps one connection, then drops SYNs
  const l = listenTcp({ host: '127.0.0.1', port: 0, backlog: 0 });
  const held: TcpConnection[] = [];
  try {
    const free = listenTcp({ host: '127.0.0.1', port: 0 });
    native.close(free.fd); // now nothing listens there
    await assert.rejects(connect(loop, { host: '127.0.0.1', port: free.port, timeout: 1000 }), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED' && /connect to 127\.0\.0\.1:\d+ failed/.test(e.message));

    let timedOut = 0;
    for (let i = 0; i < 4 && timedOut === 0; i++) {
      try {
        held.push(await connect(loop, { host: '127.0.0.1', port: l.port, timeout: 300 }));
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'ETIMEDOUT');
        assert.match((e as Error).message, /after 300 ms/);
        timedOut++;
      }
    }
    assert.equal(timedOut, 1);
  } finally {
    for (const c of held) c.forceClose();
    native.close(l.fd);
    loop.quit();
  }
});

test('TcpClient retries with back-off until the server appears', async () => {
  const loop = new EventLoop();
  const probe = listenTcp({ host: '127.0.0.1', port: 0 });
  const port = probe.port;
  native.close(probe.fd);
  const server = new TcpServer({ port, loops: 1, handlers: echo });
  try {
    const client = new TcpClient(loop, { host: '127.0.0.1', port, timeout: 500, retry: { attempts: 20, initialDelay: 20, maxDelay: 100 } });
    const p = client.connect();
    setTimeout(() => void server.listen(), 150);
    const conn = await within(5000, p, 'retrying connect');
    assert.equal(await within(2000, request(conn, 'ping')), 'ping');
    conn.forceClose();
  } finally {
    await server.stop();
    loop.quit();
  }
});

test('TcpClient: retries are bounded, and stop() during the back-off ends connect() at once', async () => {
  const loop = new EventLoop();
  const probe = listenTcp({ host: '127.0.0.1', port: 0 });
  const port = probe.port;
  native.close(probe.fd); // nothing listens there
  try {
    const bounded = new TcpClient(loop, { host: '127.0.0.1', port, retry: { attempts: 3, initialDelay: 20, maxDelay: 40 } });
    let t0 = Date.now();
    await within(5000, assert.rejects(bounded.connect(), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED'), 'bounded retries');
    assert.ok(Date.now() - t0 >= 50, 'two back-offs of 20 and 40 ms were waited');

    const client = new TcpClient(loop, { host: '127.0.0.1', port, retry: { attempts: 1000, initialDelay: 10_000 } });
    const p = client.connect();
    setTimeout(() => client.stop(), 50); // inside the first 10 s back-off
    t0 = Date.now();
    await within(2000, assert.rejects(p, (e: Error & { code?: string }) => e.code === 'ECONNREFUSED'), 'connect() after stop()');
    assert.ok(Date.now() - t0 < 1000, 'stop() did not wait out the back-off');
  } finally {
    loop.quit();
  }
});

test('ConnectionPool reuses keep-alive connections and bounds their number', async () => {
  const loop = new EventLoop();
  const server = new TcpServer({ port: 0, loops: 1, handlers: echo });
  const { port } = await server.listen();
  const pool = new ConnectionPool(loop, { host: '127.0.0.1', port, max: 2 });
  try {
    const ids = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const c = await pool.acquire();
      ids.add(c.id);
      assert.equal(await within(2000, request(c, `r${i}`)), `r${i}`);
      pool.release(c);
    }
    assert.equal(ids.size, 1, 'sequential requests share one connection');
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    const third = pool.acquire(); // waits: max is 2
    assert.equal(pool.size.waiting, 1);
    pool.release(a!);
    assert.equal((await within(2000, third)).id, a!.id);
    b!.forceClose(); // a borrowed connection dying frees its slot
    pool.release(b!);
    await waitFor(() => server.stats()[0]!.accepted === 2, 2000, 'two connections accepted');
  } finally {
    pool.close();
    await server.stop();
    loop.quit();
  }
});

test('ConnectionPool: a connection handed to a waiter no longer calls the previous borrower', async () => {
  const loop = new EventLoop();
  // Answers 'late' after 50 ms, everything else at once.
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onMessage(conn, buf) {
        const text = buf.retrieveAllAsString();
        if (text === 'late') conn.loop.runAfter(50, () => conn.send('late reply'));
        else conn.send(text);
      },
    },
  });
  const { port } = await server.listen();
  const pool = new ConnectionPool(loop, { host: '127.0.0.1', port, max: 1 });
  try {
    // A gives up on its request and releases while B waits; the late reply must not reach A.
    const a = await pool.acquire();
    const toA: string[] = [];
    a.setHandlers({
      onMessage: (_c, buf) => void toA.push(buf.retrieveAllAsString()),
      onClose: () => void toA.push('<close>'),
    });
    const waiting = pool.acquire();
    a.send('late');
    pool.release(a);
    const b = await within(2000, waiting, 'the waiter');
    assert.equal(b.id, a.id, 'the waiter got the released connection');
    // B is busy elsewhere before it sets its handlers; the stray reply arrives meanwhile.
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(toA, [], 'nothing reached the previous borrower');
    // Stray bytes on a pooled connection make it unusable: it is closed and its slot freed.
    assert.equal(b.isClosed, true, 'a connection with stray bytes is not kept');
    const c = await within(2000, pool.acquire(), 'a fresh connection');
    assert.notEqual(c.id, a.id);
    assert.equal(await within(2000, request(c, 'ping')), 'ping');
    pool.release(c);

    // An ordinary hand-off: the new borrower's handlers get its reply, the old ones nothing.
    const d = await pool.acquire();
    const toD: string[] = [];
    d.setHandlers({ onMessage: (_c, buf) => void toD.push(buf.retrieveAllAsString()), onClose: () => void toD.push('<close>') });
    const next = pool.acquire();
    pool.release(d);
    const e = await within(2000, next, 'the second waiter');
    assert.equal(await within(2000, request(e, 'pong')), 'pong');
    e.forceClose();
    assert.deepEqual(toD, []);
    assert.equal(pool.size.open, 0, 'a borrowed connection closing frees its slot');
  } finally {
    pool.close();
    await server.stop();
    loop.quit();
  }
});

test('cross-loop queue: integers posted from another thread arrive in order with an eventfd wake-up', async () => {
  const loop = new EventLoop();
  const queue = LoopQueue.create(64);
  const got: number[] = [];
  try {
    loop.attachQueue(queue, (type, a) => {
      if (type === QueueMsg.User) got.push(a);
    });
    const src = `
      const { workerData } = require('node:worker_threads');
      const { createRequire } = require('node:module');
      (async () => {
        const { LoopQueue, QueueMsg } = await import(workerData.reactor);
        const q = LoopQueue.from(workerData.handle);
        let i = 0;
        while (i < 1000) { if (q.post(QueueMsg.User, i)) i++; else await new Promise(r => setTimeout(r, 1)); }
      })();`;
    const w = new Worker(src, { eval: true, workerData: { handle: queue.handle, reactor: new URL('../../src/reactor/LoopQueue.js', import.meta.url).href } });
    await waitFor(() => got.length === 1000, 10_000, '1000 messages');
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
    await w.terminate();
  } finally {
    loop.quit();
    native.close(queue.eventfd);
  }
});

test('edge-triggered mode drains listener and connections: nothing lost (pitfalls 1 and 6)', async () => {
  const server = new TcpServer({ port: 0, loops: 1, edgeTriggered: true, maxAcceptsPerWakeup: 2, handlers: echo });
  const { port } = await server.listen();
  const loop = new EventLoop();
  try {
    const conns = await within(10_000, Promise.all(Array.from({ length: 100 }, () => connect(loop, { host: '127.0.0.1', port }))));
    const big = 'y'.repeat(300_000);
    const replies = await within(20_000, Promise.all(conns.map((c, i) => request(c, i % 10 === 0 ? big : `m${i}`))));
    replies.forEach((r, i) => assert.equal(r, i % 10 === 0 ? big : `m${i}`));
    for (const c of conns) c.forceClose();
    assert.equal(server.stats()[0]!.accepted, 100);
  } finally {
    loop.quit();
    await server.stop();
  }
});

test('a per-wakeup accept cap in level-triggered mode loses no pending connection', async () => {
  const server = new TcpServer({ port: 0, loops: 1, maxAcceptsPerWakeup: 1, handlers: echo });
  const { port } = await server.listen();
  const loop = new EventLoop();
  try {
    const conns = await within(10_000, Promise.all(Array.from({ length: 200 }, () => connect(loop, { host: '127.0.0.1', port }))));
    const replies = await within(10_000, Promise.all(conns.map((c, i) => request(c, `c${i}`))));
    replies.forEach((r, i) => assert.equal(r, `c${i}`));
    for (const c of conns) c.forceClose();
    assert.equal(server.stats()[0]!.accepted, 200);
  } finally {
    loop.quit();
    await server.stop();
  }
});

test('idle timeout closes a silent connection with reason timeout', async () => {
  const server = new TcpServer({ port: 0, loops: 1, idleTimeout: 100, handlers: echo });
  const { port } = await server.listen();
  const loop = new EventLoop();
  try {
    const c = await connect(loop, { host: '127.0.0.1', port });
    const closed = new Promise<string>((r) => c.setHandlers({ onClose: (_c, reason) => r(reason) }));
    assert.equal(await within(5000, closed), 'peer');
    await waitFor(() => server.stats()[0]!.closed.timeout === 1, 2000, 'timeout counted');
  } finally {
    loop.quit();
    await server.stop();
  }
});

test('write timeout closes a connection whose peer stopped reading; read timeout one that sends nothing', async () => {
  const reasons = new Map<string, string>();
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onMessage(conn, buf) {
        const what = buf.retrieveAllAsString();
        conn.context = what;
        if (what === 'flood') {
          conn.setWriteTimeout(150);
          const chunk = new Uint8Array(1 << 20);
          for (let i = 0; i < 32 && conn.send(chunk); i++);
        } else {
          conn.setReadTimeout(150);
        }
      },
      onClose(conn, reason) {
        reasons.set(conn.context as string, reason);
      },
    },
  });
  const { port } = await server.listen();
  const loop = new EventLoop();
  try {
    const flood = await connect(loop, { host: '127.0.0.1', port });
    flood.setHandlers({});
    flood.pauseReading(); // never reads: the server's output stops moving
    flood.send('flood');
    const quiet = await connect(loop, { host: '127.0.0.1', port, handlers: {} });
    quiet.send('quiet');
    await waitFor(() => reasons.size === 2, 5000, 'both timed out');
    assert.equal(reasons.get('flood'), 'timeout');
    assert.equal(reasons.get('quiet'), 'timeout');
    flood.forceClose();
    quiet.forceClose();
  } finally {
    loop.quit();
    await server.stop();
  }
});

test('connect to a name with several addresses tries them in turn: localhost reaches a server on ::1 only', async (t) => {
  const v6 = net.createServer((s) => s.end('hi from ::1'));
  const port = await listenOnV6Loopback(v6);
  if (port === undefined) {
    t.skip('no ::1 on this machine');
    return;
  }
  const loop = new EventLoop();
  try {
    // 127.0.0.1 refuses (nothing there), ::1 answers.
    const conn = await within(5000, connect(loop, { host: 'localhost', port }));
    assert.equal(conn.remoteAddress()?.address, '::1');
    conn.forceClose();
    // Nothing on either address: the error is the first address's, by name.
    v6.close();
    await assert.rejects(connect(loop, { host: 'localhost', port }), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED' && /127\.0\.0\.1/.test(e.message));
  } finally {
    v6.close();
    loop.quit();
  }
});
