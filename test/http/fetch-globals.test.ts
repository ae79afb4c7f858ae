/**
 * How the global Response is replaced: not with `fastResponse: false` (this thread or loop
 * threads), before the app module loads in loop threads, never in a thread serving only a
 * native handler. Its own file: the first serve() of a process decides this thread's global.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../src/http/index.js';
import { FastResponse } from '../../src/http/web-response.js';
import { exchange } from './wire.js';

const undiciResponse = globalThis.Response;
const H = 'Host: t\r\n';
const four = Array.from({ length: 4 }, () => `GET / HTTP/1.1\r\n${H}\r\n`).join('');

test('a native handler server leaves the global alone; fastResponse: false keeps undici\'s Response and still serves', async () => {
  const native = await serve({ port: 0, handler: (_q, res) => res.end('n') });
  await native.stop();
  assert.equal(globalThis.Response, undiciResponse);
  const s = await serve({ port: 0, fastResponse: false, fetch: () => new Response('undici body') });
  try {
    assert.equal(globalThis.Response, undiciResponse);
    const ex = await exchange(s.port, four, { responses: 4 });
    assert.deepEqual(ex.responses.map((r) => r.body.toString()), Array(4).fill('undici body'));
  } finally {
    await s.stop({ timeout: 2000 });
  }
});

test('loop threads install the fast Response before the app module loads: a module-level Response serves every request', async () => {
  const s = await serve({ port: 0, loops: 2, module: new URL('./fixtures/early-response-app.js', import.meta.url) });
  try {
    for (let i = 0; i < 2; i++) {
      const ex = await exchange(s.port, four, { responses: 4 });
      assert.deepEqual(ex.responses.map((r) => r.status), [200, 200, 200, 200]);
      assert.deepEqual(ex.responses.map((r) => r.body.toString()), Array(4).fill('built at module load'));
    }
  } finally {
    await s.stop({ timeout: 2000 });
  }
  assert.equal(globalThis.Response, undiciResponse, 'loop threads have globals of their own');
});

test('fastResponse: false reaches loop threads: the module-level undici Response is used up by its first request', async () => {
  const s = await serve({ port: 0, loops: 1, fastResponse: false, module: new URL('./fixtures/early-response-app.js', import.meta.url) });
  try {
    const ex = await exchange(s.port, `GET / HTTP/1.1\r\n${H}\r\nGET / HTTP/1.1\r\n${H}\r\n`, { responses: 2 });
    assert.deepEqual(ex.responses.map((r) => r.status), [200, 500]);
  } finally {
    await s.stop({ timeout: 2000 });
  }
  assert.equal(FastResponse.parts(new Response('x')), null, 'still undici\'s here');
});
