/**
 * Every outcome lands in its own bucket, against real sockets on 127.0.0.1.
 * Bounded runs (-n) only; no timing assertions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseBenchArgs, type BenchOptions } from '../../src/bench/options.js';
import { startBench } from '../../src/bench/run.js';
import type { BenchResult } from '../../src/bench/result.js';
import * as servers from './servers.js';

async function bench(port: number, ...args: string[]): Promise<BenchResult> {
  const parsed = parseBenchArgs([`http://127.0.0.1:${port}/`, ...args]);
  assert.equal(parsed.help, false);
  const running = await startBench((parsed as { options: BenchOptions }).options);
  return running.result;
}

function failedTotal(r: BenchResult): number {
  const e = r.errors;
  return e.connectRefused + e.connectTimeout + e.connectError + e.reset + e.closed + e.timeout + e.malformed;
}

/** The invariant every report relies on. */
function assertAddsUp(r: BenchResult): void {
  assert.equal(r.requests, r.completed + failedTotal(r) + r.unanswered.count, JSON.stringify(r.errors));
  const statusSum = Object.values(r.status).reduce((a, b) => a + b, 0);
  assert.equal(statusSum, r.completed);
  assert.equal(r.unanswered.count, r.errors.unanswered);
}

/** Only `bucket` is non-zero among the failure buckets, and it holds `n`. */
function onlyBucket(r: BenchResult, bucket: keyof BenchResult['errors'], n: number): void {
  for (const [k, v] of Object.entries(r.errors)) {
    if (k === 'non2xx' || k === 'unanswered') continue;
    assert.equal(v, k === bucket ? n : 0, `errors.${k} in ${JSON.stringify(r.errors)}`);
  }
}

test('200s: all answered, latency recorded', async () => {
  const s = await servers.httpServer(200);
  try {
    const r = await bench(s.port, '-c', '8', '-n', '400');
    assert.equal(r.requests, 400);
    assert.equal(r.completed, 400);
    assert.deepEqual(r.status, { '200': 400 });
    assert.equal(s.requests(), 400);
    onlyBucket(r, 'reset', 0);
    assert.equal(r.errors.non2xx, 0);
    assert.equal(r.connects, 8);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.max >= r.latencyMs.p99);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

test('nothing listening: every request is connect refused', async () => {
  const s = await servers.refusing();
  const r = await bench(s.port, '-c', '4', '-n', '200');
  assert.equal(r.requests, 200);
  assert.equal(r.completed, 0);
  onlyBucket(r, 'connectRefused', 200);
  assertAddsUp(r);
});

test('server resets after reading the request: reset', async () => {
  const s = await servers.resetting();
  try {
    const r = await bench(s.port, '-c', '4', '-n', '200');
    assert.equal(r.completed, 0);
    onlyBucket(r, 'reset', 200);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

test('server closes mid-response: closed early', async () => {
  const s = await servers.closingMidResponse();
  try {
    const r = await bench(s.port, '-c', '4', '-n', '200');
    assert.equal(r.completed, 0);
    onlyBucket(r, 'closed', 200);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

test('server never answers: request timeout', async () => {
  const s = await servers.silent();
  try {
    const r = await bench(s.port, '-c', '4', '-n', '8', '--timeout', '200');
    assert.equal(r.completed, 0);
    onlyBucket(r, 'timeout', 8);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

test('full accept queue (backlog 0, never accepts): connect timeouts, the rest time out', async () => {
  const s = servers.neverAccepting();
  try {
    const r = await bench(s.port, '-c', '6', '-n', '12', '--connect-timeout', '300', '--timeout', '300');
    assert.equal(r.completed, 0);
    assert.ok(r.errors.connectTimeout >= 1, JSON.stringify(r.errors));
    // Connections that made it into the queue before it filled are "up" but never served.
    assert.equal(r.errors.connectTimeout + r.errors.timeout, 12, JSON.stringify(r.errors));
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

/** Socket fds this process holds: what a run must give back when it ends. */
function socketFds(): number {
  let n = 0;
  for (const f of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${f}`).startsWith('socket:')) n++;
    } catch {
      // the fd of the readdir itself, gone by now
    }
  }
  return n;
}

test('the run ends without waiting out --connect-timeout on connects still pending (-t 1 and -t 2)', async () => {
  // A full accept queue: SYNs are dropped, so connects pend until the connect timeout (60 s here).
  // The run is over after -d and the grace; a report that waits another minute for those
  // connects to give up is a hang (Ctrl-C goes through the same path).
  const s = servers.neverAccepting();
  try {
    for (const threads of ['1', '2']) {
      const before = socketFds();
      const t0 = performance.now();
      const r = await bench(s.port, '-c', '4', '-t', threads, '-d', '200ms', '--grace', '100', '--connect-timeout', '60000');
      const took = performance.now() - t0;
      assert.ok(took < 5000, `-t ${threads}: the result took ${Math.round(took)} ms`);
      assert.equal(r.completed, 0);
      assert.equal(r.errors.connectTimeout, 0, JSON.stringify(r.errors));
      assert.ok(r.unanswered.count >= 3, `unanswered ${r.unanswered.count}`);
      assertAddsUp(r);
      // The abandoned connects' fds are closed, not leaked.
      assert.equal(socketFds(), before, `-t ${threads}: socket fds`);
    }
  } finally {
    await s.stop();
  }
});

test('503s are answered requests counted by status, and as non-2xx', async () => {
  const s = await servers.httpServer(503, 'busy');
  try {
    const r = await bench(s.port, '-c', '4', '-n', '200');
    assert.equal(r.completed, 200);
    assert.deepEqual(r.status, { '503': 200 });
    assert.equal(r.errors.non2xx, 200);
    onlyBucket(r, 'reset', 0);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

test('bytes that are not HTTP: malformed', async () => {
  const s = await servers.garbage();
  try {
    const r = await bench(s.port, '-c', '4', '-n', '100');
    assert.equal(r.completed, 0);
    onlyBucket(r, 'malformed', 100);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});

test('-d against a silent server: in-flight requests reported as unanswered, per connection', async () => {
  const s = await servers.silent();
  try {
    const r = await bench(s.port, '-c', '3', '-d', '300ms', '--timeout', '0', '--grace', '100');
    assert.equal(r.completed, 0);
    assert.equal(r.requests, 3);
    assert.equal(r.unanswered.count, 3);
    assert.equal(r.unanswered.connections.length, 3);
    for (const c of r.unanswered.connections) {
      assert.equal(c.pending, 1);
      assert.ok(c.conn > 0);
      assert.match(c.local, /^127\.0\.0\.1:\d+$/);
    }
    onlyBucket(r, 'timeout', 0);
    assertAddsUp(r);
  } finally {
    await s.stop();
  }
});
