/**
 * The ways of driving load: threads, --close, pipelining, --rate, HEAD,
 * chunked bodies, a server that closes keep-alive connections now and then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { parseBenchArgs, type BenchOptions } from '../../src/bench/options.js';
import { startBench } from '../../src/bench/run.js';
import type { BenchResult } from '../../src/bench/result.js';
import * as servers from './servers.js';
import { listenOnV6Loopback } from '../helpers.js';

async function bench(port: number, ...args: string[]): Promise<BenchResult> {
  const parsed = parseBenchArgs([`http://127.0.0.1:${port}/`, ...args]);
  const running = await startBench((parsed as { options: BenchOptions }).options);
  return running.result;
}

function clean(r: BenchResult): void {
  for (const [k, v] of Object.entries(r.errors)) assert.equal(v, 0, `errors.${k} in ${JSON.stringify(r.errors)}`);
}

/** A node:http server that records what it saw; `handler` may customise the response. */
function recordingServer(handler?: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const seen = { requests: 0, connections: 0, methods: new Set<string>(), bodies: [] as string[] };
  const server = http.createServer((req, res) => {
    const n = ++seen.requests;
    seen.methods.add(req.method!);
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (body) seen.bodies.push(body);
      if (handler) handler(req, res, n);
      else res.end('ok');
    });
  });
  server.on('connection', () => seen.connections++);
  return new Promise<{ port: number; seen: typeof seen; stop: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        seen,
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    );
  });
}

test('-t 2: worker threads share the connections and requests, results merge', async () => {
  const s = await servers.httpServer(200);
  try {
    const r = await bench(s.port, '-c', '6', '-t', '2', '-n', '301');
    assert.equal(r.threads, 2);
    assert.equal(r.requests, 301);
    assert.equal(r.completed, 301);
    assert.equal(s.requests(), 301);
    assert.equal(r.connects, 6);
    assert.equal(r.latencyBins.reduce((a, b) => a + b.count, 0), 301);
    clean(r);
  } finally {
    await s.stop();
  }
});

test('--close: one connection per request', async () => {
  const s = await recordingServer();
  try {
    const r = await bench(s.port, '-c', '4', '-n', '100', '--close');
    assert.equal(r.completed, 100);
    assert.equal(r.connects, 100);
    assert.equal(s.seen.connections, 100);
    clean(r);
  } finally {
    await s.stop();
  }
});

test('--pipeline 8: requests go out back to back and every answer is matched', async () => {
  const s = await recordingServer();
  try {
    const r = await bench(s.port, '-c', '2', '-n', '200', '--pipeline', '8');
    assert.equal(r.completed, 200);
    assert.equal(s.seen.requests, 200);
    assert.equal(s.seen.connections, 2);
    clean(r);
  } finally {
    await s.stop();
  }
});

test('--rate: an open-loop run sends at the given rate until -n', async () => {
  const s = await recordingServer();
  try {
    const r = await bench(s.port, '-c', '4', '-n', '40', '--rate', '200');
    assert.equal(r.completed, 40);
    assert.equal(r.rate, 200);
    // 40 requests at 200/s are spread over about 200 ms, not sent at once.
    assert.ok(r.elapsedMs >= 150, `elapsed ${r.elapsedMs}`);
    clean(r);
  } finally {
    await s.stop();
  }
});

test('--rate with -d: the schedule covers [0, d), not the send due exactly at d', async () => {
  // 100/s for 500 ms is 50 sends (at 0, 10, ..., 490 ms); the one at 500 ms is after the run.
  const s = await recordingServer();
  try {
    const r = await bench(s.port, '-c', '2', '-d', '500ms', '--rate', '100');
    assert.equal(r.requests, 50);
    assert.equal(r.completed, 50);
    assert.equal(s.seen.requests, 50);
    assert.equal(r.dueNotSent, 0);
    clean(r);
    const t = await bench(s.port, '-c', '4', '-t', '2', '-d', '500ms', '--rate', '200');
    assert.equal(t.requests, 100);
    assert.equal(t.dueNotSent, 0);
    clean(t);
  } finally {
    await s.stop();
  }
});

test('--rate: a send due just before the deadline is sent, not reported as "behind"', async () => {
  // 5.0005/s per thread for 1 s: sends at 0, 199.98, ..., 999.9 ms. The last one's timer fires a
  // tick late, at or after the deadline, racing the stop: it must go out, not count as behind.
  const s = await recordingServer();
  try {
    for (const [threads, rate, sends] of [['1', '5.0005', 6], ['2', '10.001', 12]] as const) {
      const r = await bench(s.port, '-c', '4', '-t', threads, '-d', '1s', '--rate', rate);
      assert.equal(r.dueNotSent, 0, `-t ${threads}: dueNotSent ${r.dueNotSent}, requests ${r.requests}`);
      assert.equal(r.requests, sends, `-t ${threads}`);
      clean(r);
    }
  } finally {
    await s.stop();
  }
});

test('--rate against a slow server: what was due in [0, d) but not sent, exactly', async () => {
  // One connection, 100 ms per answer: 3 sent in 300 ms, the other 27 of 30 scheduled fell behind.
  const s = await recordingServer((_req, res) => setTimeout(() => res.end('ok'), 100));
  try {
    const r = await bench(s.port, '-c', '1', '-d', '300ms', '--rate', '100', '--grace', '1000');
    assert.equal(r.requests + r.dueNotSent, 30, `requests ${r.requests} + dueNotSent ${r.dueNotSent}`);
    clean(r);
  } finally {
    await s.stop();
  }
});

test("-H 'Connection: close' against a server that closes without saying so: no request is lost", async () => {
  // The server honours the request's close (it must) but its response carries no
  // Connection header: only the client knows the connection is done.
  let served = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let head = '';
    sock.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      served++;
      const close = /^connection:\s*close/im.test(head);
      head = head.slice(head.indexOf('\r\n\r\n') + 4);
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      if (close) sock.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await bench((server.address() as net.AddressInfo).port, '-c', '4', '-n', '200', '-H', 'Connection: close');
    assert.equal(r.completed, 200);
    assert.equal(served, 200);
    assert.equal(r.mode, 'close');
    clean(r);
  } finally {
    for (const sock of sockets) sock.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('POST with a body, custom headers, HEAD without a body', async () => {
  const headers: string[] = [];
  const s = await recordingServer((req, res) => {
    headers.push(String(req.headers['x-test']));
    res.setHeader('Content-Length', '1000');
    res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1000));
  });
  try {
    const r = await bench(s.port, '-c', '2', '-n', '10', '-m', 'POST', '-b', 'payload', '-H', 'X-Test: yes');
    assert.equal(r.completed, 10);
    assert.deepEqual(s.seen.bodies, new Array(10).fill('payload'));
    assert.ok(headers.every((h) => h === 'yes'));
    clean(r);
    const h = await bench(s.port, '-c', '2', '-n', '10', '-m', 'HEAD');
    assert.equal(h.completed, 10);
    assert.ok(s.seen.methods.has('HEAD'));
    clean(h);
  } finally {
    await s.stop();
  }
});

test('chunked responses and a server that closes every 5th keep-alive connection', async () => {
  const s = await recordingServer((req, res, n) => {
    if (n % 5 === 0) res.setHeader('Connection', 'close');
    res.write('part one, ');
    res.end('part two');
  });
  try {
    const r = await bench(s.port, '-c', '3', '-n', '150');
    assert.equal(r.completed, 150);
    assert.ok(r.connects > 3, `connects ${r.connects}`);
    clean(r);
  } finally {
    await s.stop();
  }
});

test('Ctrl-C (stop) ends a -d run early and marks it interrupted', async () => {
  const s = await servers.httpServer(200);
  try {
    const parsed = parseBenchArgs([`http://127.0.0.1:${s.port}/`, '-c', '2', '-d', '60']);
    const running = await startBench((parsed as { options: BenchOptions }).options);
    setTimeout(() => running.stop(), 200);
    const r = await running.result;
    assert.equal(r.interrupted, true);
    assert.ok(r.completed > 0);
    assert.equal(r.requests, r.completed);
  } finally {
    await s.stop();
  }
});

test('--rate against a server that never answers: the schedule falls behind and says so', async () => {
  const s = await servers.silent();
  try {
    const r = await bench(s.port, '-c', '1', '-d', '300ms', '--rate', '1000', '--timeout', '0', '--grace', '50');
    assert.equal(r.requests, 1);
    assert.equal(r.unanswered.count, 1);
    assert.ok(r.dueNotSent > 0, `dueNotSent ${r.dueNotSent}`);
  } finally {
    await s.stop();
  }
});

test('http://localhost:PORT/ reaches a server listening on ::1 only (the address that answers is used)', async (t) => {
  let n = 0;
  const server = http.createServer((_req, res) => {
    n++;
    res.end('ok');
  });
  const port = await listenOnV6Loopback(server);
  if (port === undefined) {
    t.skip('no ::1 on this machine');
    return;
  }
  try {
    const parsed = parseBenchArgs([`http://localhost:${port}/`, '-c', '2', '-n', '20']);
    const r = await (await startBench((parsed as { options: BenchOptions }).options)).result;
    clean(r);
    assert.equal(r.completed, 20);
    assert.equal(n, 20);
  } finally {
    server.close();
  }
});
