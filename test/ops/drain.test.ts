/**
 * Graceful stop: what a plain close of a reuseport listener loses (its queued
 * connections are reset), and edgeloop's stop losing none; the health route
 * and its drain delay; readiness checks; SIGTERM under load with reuseport and
 * two loops, seen by edgeloop bench (which tells a reset from a refusal).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { native } from '../../src/native/binding.js';
import { listenTcp } from '../../src/reactor/Listener.js';
import { serve } from '../../src/http/index.js';
import { runCli, sleep, waitFor, within } from '../helpers.js';
import { startServe } from './support.js';

const demo = new URL('../../src/http/demo.js', import.meta.url);

/** Connects and sends a request; 'served' when a full 200 came back, else how it ended. */
function oneRequest(port: number): Promise<'served' | 'refused' | 'reset' | 'closed' | string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (r: string): void => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(8000, () => done('timeout'));
    s.on('connect', () => s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (/^HTTP\/1\.1 200 [^]*\r\n\r\nhello$/.test(data)) done('served');
    });
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : e.code ?? 'error'));
    s.on('close', () => done('closed'));
  });
}

test('a plain close of one reuseport listener resets the connections queued on it (unless tcp_migrate_req moves them)', async (t) => {
  const migrate = fs.readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  const a = listenTcp({ host: '127.0.0.1', port: 0, reusePort: true, newGroup: true });
  const b = listenTcp({ host: '127.0.0.1', port: a.port, reusePort: true });
  const clients: net.Socket[] = [];
  const accepted: number[] = [];
  let reset = 0;
  try {
    for (let i = 0; i < 40; i++) {
      const s = net.connect(a.port, '127.0.0.1');
      clients.push(s);
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset++;
      });
      await new Promise<void>((r) => s.once('connect', () => r()));
    }
    // Every handshake completed in the kernel: the connections sit in a's and b's accept queues.
    native.close(b.fd);
    for (const s of clients) s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    for (let fd; (fd = native.accept(a.fd)) >= 0; ) accepted.push(fd);
    await waitFor(() => accepted.length + reset === 40, 3000, 'every client accepted on a or reset');
    t.diagnostic(`plain close of b (tcp_migrate_req=${migrate ? 1 : 0}): ${reset} of 40 queued connections reset, ${accepted.length} accepted on a`);
    if (migrate) assert.equal(accepted.length, 40, "tcp_migrate_req=1: b's queue moved to a");
    else assert.ok(reset > 0, `tcp_migrate_req=0: the connections queued on b are reset (${reset} of 40; ${accepted.length} were on a)`);
  } finally {
    for (const s of clients) s.destroy();
    for (const fd of accepted) native.close(fd);
    native.close(a.fd);
  }
});

test("edgeloop's stop under a connection burst (reuseport, 2 loops): every connection is served or refused, none reset", async (t) => {
  const server = await serve({ port: 0, loops: 2, accept: 'reuseport', module: demo });
  const port = server.port;
  const outcomes: Promise<string>[] = [];
  for (let i = 0; i < 150; i++) {
    outcomes.push(oneRequest(port));
    if (i === 75) void server.stop({ timeout: 3000 });
    if (i % 10 === 0) await sleep(1);
  }
  const all = await within(20_000, Promise.all(outcomes), 'burst');
  await server.stop();
  const count = (k: string): number => all.filter((o) => o === k).length;
  t.diagnostic(`edgeloop stop under a burst of 150: ${count('served')} served, ${count('refused')} refused, ${count('reset')} reset`);
  assert.equal(count('reset'), 0, `no connection reset: ${JSON.stringify(all)}`);
  assert.equal(count('served') + count('refused'), all.length, `served or refused only: ${JSON.stringify(all)}`);
  assert.ok(count('served') > 0, 'the connections made before the stop were served');
});

test('health route: 200 ok while serving; during drainDelay 503 draining, still serving with Connection: close; then refused', async () => {
  const server = await serve({ port: 0, health: '/healthz', handler: (_req, res) => res.end('hi') });
  const base = server.url;
  const ok = await fetch(`${base}/healthz`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'ok\n');
  assert.equal(ok.headers.get('cache-control'), 'no-store');
  const stopped = server.stop({ drainDelay: 400, timeout: 1000 });
  await sleep(50);
  const h = await fetch(`${base}/healthz`);
  assert.equal(h.status, 503);
  assert.equal(await h.text(), 'draining\n');
  const r = await fetch(`${base}/other`);
  assert.equal(r.status, 200, 'still serving while the balancer notices');
  assert.equal(r.headers.get('connection'), 'close', 'keep-alive clients are moved off');
  await r.text();
  await within(5000, stopped, 'stop');
  assert.equal(await oneRequest(server.port), 'refused');
});

test('readiness checks: failing until the first pass, 503 naming the failing check, back to 200; bad arguments are refused', async () => {
  const server = await serve({ port: 0, health: '/healthz', handler: (_req, res) => res.end('hi') });
  try {
    let dbUp = false;
    server.health.addCheck('db', () => dbUp, { interval: 20 });
    server.health.addCheck('cache', async () => true, { interval: 20 });
    const body = async (): Promise<string> => `${(await fetch(`${server.url}/healthz`)).status} ${await (await fetch(`${server.url}/healthz`)).text()}`;
    await waitFor(() => server.health.status().failing.join() === 'db', 2000, 'cache passes, db fails');
    assert.equal(await body(), '503 unready: db\n');
    assert.deepEqual(server.health.status(), { status: 'unready', failing: ['db'] });
    dbUp = true;
    await waitFor(() => server.health.status().status === 'serving', 2000, 'db passes');
    assert.equal(await body(), '200 ok\n');
    server.health.addCheck('throws', () => {
      throw new Error('down');
    }, { interval: 20 });
    server.health.addCheck('hangs', () => new Promise<boolean>(() => {}), { interval: 20, timeout: 30 });
    await waitFor(() => server.health.status().failing.length === 2, 2000, 'a throwing and an overrunning check fail');
    assert.ok(server.health.removeCheck('throws'));
    assert.ok(server.health.removeCheck('hangs'));
    assert.equal(server.health.removeCheck('nope'), false);
    assert.equal(server.health.status().status, 'serving');
    assert.throws(() => server.health.addCheck('db', () => true), /exists/);
    assert.throws(() => server.health.addCheck('a,b', () => true), /name/);
    assert.throws(() => server.health.addCheck('x', () => true, { interval: 0 }), /interval/);
    await assert.rejects(serve({ port: 0, health: 'healthz', handler: () => {} }), /health must be a path/);
  } finally {
    await server.stop();
  }
});

/** Requests the demo server has answered, read synchronously from its /stats (curl: the test's own loop stays free). */
function requestsServed(port: number): number {
  const r = spawnSync('curl', ['-s', `http://127.0.0.1:${port}/stats`], { encoding: 'utf8' });
  try {
    return (JSON.parse(r.stdout) as { stats: { requests: number }[] }).stats.reduce((a, l) => a + l.requests, 0);
  } catch {
    return 0;
  }
}

test('SIGTERM under load, reuseport and --loops 2: edgeloop bench sees no reset and no cut response, the server exits 0', async (t) => {
  for (const mode of [[], ['--close']]) {
    const s = await startServe(['--port', '0', '--loops', '2', '--accept', 'reuseport']);
    const bench = runCli(['bench', `http://127.0.0.1:${s.port}/hello`, '-c', '16', '-d', '3s', '--json', '--no-progress', ...mode], 30_000);
    for (let i = 0; i < 50 && requestsServed(s.port) < 500; i++) await sleep(200); // the load is on
    s.child.kill('SIGTERM');
    assert.equal(await within(10_000, s.exit, 'server exit'), 0);
    const r = await bench;
    const out = JSON.parse(r.stdout) as { completed: number; errors: Record<string, number> };
    t.diagnostic(`SIGTERM under edgeloop bench (${mode.join(' ') || 'keep-alive'}): ${out.completed} completed, errors ${JSON.stringify(out.errors)}`);
    assert.ok(out.completed > 100, `requests were served before the stop (${out.completed})`);
    assert.equal(out.errors.reset, 0, `no connection reset (${mode.join(' ') || 'keep-alive'}): ${JSON.stringify(out.errors)}`);
    assert.equal(out.errors.closed, 0, `no response cut (${mode.join(' ') || 'keep-alive'}): ${JSON.stringify(out.errors)}`);
    assert.equal(out.errors.malformed, 0);
  }
});

/** Sends a WebSocket handshake on a new connection; resolves with the answer's head. */
function upgradeHead(port: number): Promise<string> {
  return within(
    5000,
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let data = '';
      s.on('connect', () =>
        s.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'),
      );
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        const end = data.indexOf('\r\n\r\n');
        if (end >= 0) {
          s.destroy();
          resolve(data.slice(0, end));
        }
      });
      s.on('error', reject);
      s.on('close', () => reject(new Error(`closed before an answer: ${JSON.stringify(data)}`)));
    }),
    'the handshake answer',
  );
}

test('once stop() began, a WebSocket upgrade is refused 503 with Connection: close on every loop, res.upgrade() and server.upgrade() alike', async () => {
  for (const app of ['upgrade-native-app', 'upgrade-web-app']) {
    // dispatcher round-robin: consecutive connections alternate between the two loops
    const s = await serve({ loops: 2, accept: 'dispatcher', module: new URL(`./fixtures/${app}.js`, import.meta.url) });
    try {
      const before = await upgradeHead(s.port);
      assert.match(before, /^HTTP\/1\.1 101 /, `${app}: upgrades while serving`);
      const stopped = s.stop({ drainDelay: 600, timeout: 2000 });
      await sleep(50);
      const loops = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const head = await upgradeHead(s.port); // accepted during the drain delay: served, but not upgraded
        assert.match(head, /^HTTP\/1\.1 503 /, `${app}: ${head}`);
        assert.match(head, /\r\nConnection: close(\r\n|$)/i, `${app}: ${head}`);
        const loop = /\r\nX-Loop: (\d)/i.exec(head)?.[1];
        if (loop !== undefined) loops.add(loop);
      }
      if (app === 'upgrade-native-app') assert.deepEqual(loops, new Set(['0', '1']), 'refused on both loops');
      await stopped;
    } finally {
      await s.stop();
    }
  }
});
