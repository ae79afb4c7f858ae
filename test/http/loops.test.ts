/**
 * Multi-loop servers (one loop per worker thread, the app module loaded in
 * each) under every accept strategy, and graceful stop: in-flight requests
 * finish with `Connection: close`, idle keep-alive connections are closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type HttpServer } from '../../src/http/index.js';
import { handler } from './app.js';
import { openSocket, parseResponses, request1 } from './wire.js';

const H = 'Host: t\r\n';
const appModule = new URL('./app.js', import.meta.url);

for (const accept of ['reuseport', 'exclusive', 'dispatcher'] as const) {
  test(`loops: 2, accept=${accept}: every request answered, stats per loop`, async () => {
    const s = await serve({ port: 0, loops: 2, accept, module: appModule });
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const r = await fetch(`${s.url}/info?i=${i}`, { method: 'POST', body: 'x'.repeat(i) });
          return (await r.json()) as { bodyLength: number; loop: number };
        }),
      );
      results.forEach((j, i) => assert.equal(j.bodyLength, i));
      const stats = s.stats();
      assert.ok(stats.length >= 2);
      const served = stats.slice(0, 2).reduce((n, st) => n + st.requests, 0);
      assert.ok(served >= 40, `requests counted: ${served}`);
    } finally {
      await s.stop({ timeout: 2000 });
    }
  });
}

test('a Hono app module served by 2 loop threads', async () => {
  const s = await serve({ port: 0, loops: 2, module: new URL('./fixtures/hono-app.js', import.meta.url) });
  try {
    assert.equal(await (await fetch(`${s.url}/`)).text(), 'hono in a loop thread');
    const j = (await (await fetch(`${s.url}/thread`)).json()) as { threadId: number };
    assert.ok(j.threadId > 0, 'served from a worker thread');
  } finally {
    await s.stop({ timeout: 2000 });
  }
});

test('a module that exports onError gets its handlers\' errors in the loop thread; serve({ onError, module }) is refused', async () => {
  const mod = new URL('./fixtures/on-error-app.js', import.meta.url);
  await assert.rejects(serve({ port: 0, loops: 2, module: mod, onError: () => {} }), /export it from the module/);
  const s = await serve({ port: 0, loops: 2, module: mod });
  try {
    // One connection: both requests are served by the same loop thread.
    const c = await openSocket(s.port);
    c.sock.write(`GET /boom HTTP/1.1\r\n${H}\r\nGET /errors HTTP/1.1\r\n${H}\r\n`);
    await c.until((b) => parseResponses(b).responses.length === 2);
    const [boom, errors] = parseResponses(c.received()).responses;
    assert.equal(boom!.status, 500);
    assert.equal(errors!.body.toString(), '1');
    c.sock.destroy();
  } finally {
    await s.stop({ timeout: 2000 });
  }
});

test('serve() explains what to do with a handler function and loops > 1', async () => {
  await assert.rejects(serve({ port: 0, loops: 2, handler }), /module/);
  await assert.rejects(serve({ port: 0 } as never), /exactly one of handler, fetch or module/);
  await assert.rejects(serve({ port: 0, handler, keepAliveTimeout: -1 }), /keepAliveTimeout/);
});

test('graceful stop: the request in flight completes (Connection: close), idle connections close', async () => {
  let s: HttpServer | undefined = await serve({ port: 0, handler });
  try {
    const idle = await openSocket(s.port);
    idle.sock.write(`GET /hello HTTP/1.1\r\n${H}\r\n`);
    await idle.until((b) => parseResponses(b).responses.length === 1);
    const busy = await openSocket(s.port);
    busy.sock.write(`GET /async?ms=300&id=last HTTP/1.1\r\n${H}\r\n`);
    await new Promise((r) => setTimeout(r, 50));
    const stopped = s.stop({ timeout: 5000 });
    await idle.closed();
    await busy.until((b) => parseResponses(b).responses.length === 1);
    const r = parseResponses(busy.received()).responses[0]!;
    assert.equal(r.body.toString(), 'async last');
    assert.equal(r.get('connection'), 'close');
    await busy.closed();
    await stopped;
    s = undefined;
  } finally {
    await s?.stop({ timeout: 1000 });
  }
});

test('after stop the port is free again', async () => {
  const a = await serve({ port: 0, handler });
  const port = a.port;
  await a.stop();
  const b = await serve({ port, handler });
  try {
    assert.equal((await request1(b.port, `GET /hello HTTP/1.1\r\n${H}\r\n`)).status, 200);
  } finally {
    await b.stop();
  }
});
