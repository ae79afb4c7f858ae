/**
 * In-process reload: fresh loop threads load the app module anew on the same
 * listen sockets while the old loops drain. Through the API (server.reload())
 * and through SIGHUP on `edgeloop serve` three times under wrk: no failed request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../src/http/index.js';
import { requireTool, sleep, within } from '../helpers.js';
import { startServe, wrk } from './support.js';

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
    assert.equal(reloads(), 3, `three reloads during the load: ${s.stderr()}`);
    assert.ok(r.requests > 1000, r.output);
    assert.equal(r.non2xx, 0, r.output);
    assert.equal(r.socketErrors, 0, r.output);
  } finally {
    s.child.kill('SIGTERM');
    await within(10_000, s.exit, 'exit');
  }
});
