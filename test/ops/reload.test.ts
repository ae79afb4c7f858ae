/**
 * In-process reload: fresh loop threads load the app module anew on the same
 * listen sockets while the old loops drain. Through the API (server.reload())
 * and through SIGHUP on `edgeloop serve` three times under wrk: no failed request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../src/http/index.js';
import { requireTool, sleep, within } from '../helpers.js';
import { loadSummary, parseMetrics, startServe, sumMetric, wrk, type Samples } from './support.js';

const app = new URL('./fixtures/generation-app.js', import.meta.url);

for (const loops of [1, 2]) {
  test(`server.reload() with loops: ${loops}: a new module load answers, requests in flight on the old loops finish`, async () => {
    const server = await serve({ port: 0, loops, module: app });
    try {
      // Each loop thread loads the module itself: one id per loop.
      const old = new Set<string>();
      for (let i = 0; i < 10; i++) old.add(await (await fetch(server.url)).text());
      const slow = fetch(`${server.url}/slow`).then((r) => r.text());
      await sleep(50);
      await within(10_000, server.reload({ timeout: 3000 }), 'reload');
      const slowId = (await slow).replace(/^slow /, '').trim();
      assert.ok(old.has(slowId) || old.size < loops, 'an old loop finished its request');
      const now = await (await fetch(server.url)).text();
      assert.ok(!old.has(now), 'the module was loaded anew');
      assert.equal(server.stats().length, loops, 'stats are the new loops\'');
    } finally {
      await server.stop();
    }
  });
}

test('reload with a module that fails to load rejects and the old loops keep serving; a handler function cannot be reloaded', async () => {
  const server = await serve({ port: 0, loops: 1, module: app });
  try {
    const before = await (await fetch(server.url)).text();
    process.env.FAIL_LOAD = '1';
    try {
      await assert.rejects(server.reload(), /broken/);
    } finally {
      delete process.env.FAIL_LOAD;
    }
    assert.equal(await (await fetch(server.url)).text(), before);
  } finally {
    await server.stop();
  }
  const fn = await serve({ port: 0, handler: (_req, res) => res.end('x') });
  try {
    await assert.rejects(fn.reload(), /module/);
    assert.equal(await (await fetch(fn.url)).text(), 'x');
  } finally {
    await fn.stop();
  }
});

test('SIGHUP three times under wrk load (edgeloop serve --loops 2): 0 non-2xx, 0 socket errors', async (t) => {
  if (!requireTool(t, 'wrk')) return;
  const s = await startServe(['--port', '0', '--loops', '2']);
  try {
    const load = wrk(`http://127.0.0.1:${s.port}/hello`, 8);
    const reloads = (): number => (s.stderr().match(/reloaded/g) ?? []).length;
    // One SIGHUP after another: a SIGHUP during a reload is coalesced into one more reload.
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      s.child.kill('SIGHUP');
      for (let k = 0; k < 100 && reloads() <= i; k++) await sleep(50);
    }
    const r = await load;
    t.diagnostic(`three SIGHUPs under wrk: ${loadSummary(r)}`);
    assert.equal(reloads(), 3, `three reloads during the load: ${s.stderr()}`);
    assert.ok(r.requests > 1000, r.output);
    assert.equal(r.non2xx, 0, r.output);
    assert.equal(r.socketErrors, 0, r.output);
  } finally {
    s.child.kill('SIGTERM');
    await within(10_000, s.exit, 'exit');
  }
});

test('metrics across server.reload(): no counter or histogram series goes backwards, and the new loops count on top of the old', async () => {
  const server = await serve({ port: 0, loops: 2, module: app, metrics: '/metrics' });
  try {
    const scrape = async (): Promise<Samples> => parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
    const load = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await (await fetch(server.url, { headers: { Connection: 'close' } })).text();
    };
    const monotonic = (before: Samples, after: Samples, when: string): void => {
      for (const [k, v] of before) {
        if (!/^edgeloop_\w+(_total|_bucket|_count|_sum)\{/.test(k)) continue;
        const now = after.get(k);
        assert.ok(now !== undefined && now >= v, `${when}: ${k} went from ${v} to ${now}`);
      }
    };
    await load(20);
    let last = await scrape();
    const statsTotal = (): number => server.stats().reduce((a, l) => a + l.requests, 0);
    let lastStats = statsTotal();
    // Two reloads: the second one's loops count in the buffer the first generation used.
    for (let r = 1; r <= 2; r++) {
      await within(10_000, server.reload({ timeout: 3000 }), 'reload');
      const now = await scrape();
      monotonic(last, now, `reload ${r}`);
      await load(20);
      const loaded = await scrape();
      monotonic(now, loaded, `load after reload ${r}`);
      assert.ok(
        sumMetric(loaded, 'edgeloop_http_requests_total') >= sumMetric(last, 'edgeloop_http_requests_total') + 20,
        `reload ${r}: the new loops' requests add to the old ones'`,
      );
      assert.ok(statsTotal() >= lastStats + 20, 'server.stats() sums the generations too');
      assert.equal(server.stats().length, 2, 'one entry per loop');
      last = loaded;
      lastStats = statsTotal();
    }
  } finally {
    await server.stop();
  }
});
