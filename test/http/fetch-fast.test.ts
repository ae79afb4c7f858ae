/**
 * The fetch adapter's fast path over real sockets: fast Responses written straight out
 * (Content-Length, same turn, reusable), undici Responses (built before serve(), proxied,
 * streamed, endless) through the streaming path, the edge statuses, and Hono's middleware.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import { logger } from 'hono/logger';
import { secureHeaders } from 'hono/secure-headers';
import { streamSSE } from 'hono/streaming';
import { serve } from '../../src/http/index.js';
import { FastResponse, RealResponse } from '../../src/http/web-response.js';
import { waitFor } from '../helpers.js';
import { withFetch } from './fetch-server.js';
import { exchange, openSocket, request1 } from './wire.js';

const H = 'Host: t\r\n';
/** Built at module load, before any serve() in this process: an undici Response. */
const early = new Response('built early', { headers: { 'x-early': '1' } });

test('a Response built before serve() is undici\'s and is served; its clones too; Responses built after are fast', async () => {
  assert.equal(FastResponse.parts(early), null);
  let reused = 0;
  await withFetch(
    (req) => {
      const p = new URL(req.url).pathname;
      if (p === '/once') return early.clone();
      if (p === '/again') return early; // its stream is read once, as the standard says
      reused++;
      return new Response('fast');
    },
    async (s) => {
      assert.ok(early instanceof Response);
      assert.equal(Response, FastResponse);
      for (let i = 0; i < 2; i++) {
        const r = await request1(s.port, `GET /once HTTP/1.1\r\n${H}\r\n`);
        assert.equal(r.body.toString(), 'built early');
        assert.equal(r.get('x-early'), '1');
      }
      assert.equal((await request1(s.port, `GET /again HTTP/1.1\r\n${H}\r\n`)).body.toString(), 'built early');
      assert.equal((await request1(s.port, `GET /again HTTP/1.1\r\n${H}\r\n`)).status, 500, 'a body used up is a handler error');
      assert.equal((await request1(s.port, `GET /f HTTP/1.1\r\n${H}\r\n`)).body.toString(), 'fast');
      assert.equal(reused, 1);
    },
  );
});

test('one fast Response object returned for many requests: every one gets the whole body with Content-Length', async () => {
  let shared: Response | undefined;
  await withFetch(
    () => (shared ??= new Response('the same object', { headers: { 'content-type': 'text/plain' } })),
    async (s) => {
      const reqs = Array.from({ length: 5 }, () => `GET / HTTP/1.1\r\n${H}\r\n`).join('');
      const ex = await exchange(s.port, reqs, { responses: 5 });
      assert.equal(ex.responses.length, 5);
      for (const r of ex.responses) {
        assert.equal(r.body.toString(), 'the same object');
        assert.equal(r.get('content-length'), '15');
        assert.equal(r.get('content-type'), 'text/plain');
      }
      assert.equal(shared!.bodyUsed, false);
    },
  );
});

test('fast bodies: string (UTF-8), Uint8Array, ArrayBuffer, DataView, null, Response.json; Content-Length each', async () => {
  const bodies: Record<string, () => Response> = {
    '/utf8': () => new Response('héllo ✓'),
    '/u8': () => new Response(new Uint8Array([0x61, 0x62])),
    '/ab': () => new Response(new Uint8Array([0x63, 0x64, 0x65]).buffer),
    '/dv': () => new Response(new DataView(new Uint8Array([0x66, 0x67, 0x68, 0x69]).buffer, 1, 2)),
    '/null': () => new Response(null, { status: 201 }),
    '/json': () => Response.json({ ok: true }),
  };
  await withFetch(
    (req) => bodies[new URL(req.url).pathname]!(),
    async (s) => {
      const get = (p: string) => request1(s.port, `GET ${p} HTTP/1.1\r\n${H}\r\n`);
      const u = await get('/utf8');
      assert.equal(u.body.toString('utf8'), 'héllo ✓');
      assert.equal(u.get('content-length'), String(Buffer.byteLength('héllo ✓')));
      assert.equal(u.get('content-type'), 'text/plain;charset=UTF-8');
      assert.equal((await get('/u8')).body.toString(), 'ab');
      assert.equal((await get('/ab')).body.toString(), 'cde');
      assert.equal((await get('/dv')).body.toString(), 'gh');
      const n = await get('/null');
      assert.equal(n.status, 201);
      assert.equal(n.get('content-length'), '0');
      const j = await get('/json');
      assert.equal(j.get('content-type'), 'application/json');
      assert.equal(j.body.toString(), '{"ok":true}');
    },
  );
});

test('multi-value request headers; several Set-Cookie and repeated response fields stay separate', async () => {
  await withFetch(
    (req) => {
      const h = new Headers({ 'content-type': 'text/plain' });
      h.append('set-cookie', 'a=1; Path=/');
      h.append('set-cookie', 'b=2; HttpOnly');
      h.append('vary', 'accept');
      h.append('vary', 'origin');
      const pairs = new URL(req.url).pathname === '/pairs';
      const init = pairs ? { headers: [['set-cookie', 'c=3'], ['set-cookie', 'd=4'], ['x-seen', String(req.headers.get('x-multi'))]] as [string, string][] } : { headers: h };
      return new Response(`${req.headers.get('x-multi')}|${req.headers.get('cookie')}`, init);
    },
    async (s) => {
      const r = await request1(s.port, `GET / HTTP/1.1\r\n${H}X-Multi: one\r\nX-Multi: two\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n`);
      assert.equal(r.body.toString(), 'one, two|a=1; b=2');
      const cookies = (x: typeof r) => x.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v);
      assert.deepEqual(cookies(r), ['a=1; Path=/', 'b=2; HttpOnly']);
      assert.equal(r.get('vary'), 'accept, origin');
      const p = await request1(s.port, `GET /pairs HTTP/1.1\r\n${H}X-Multi: 1\r\nX-Multi: 2\r\n\r\n`);
      assert.deepEqual(cookies(p), ['c=3', 'd=4']);
      assert.equal(p.get('x-seen'), '1, 2');
    },
  );
});

test('Response.redirect, Response.error (500, reported), clone() and bodyUsed over the wire', async () => {
  const errors: unknown[] = [];
  await withFetch(
    async (req) => {
      const p = new URL(req.url).pathname;
      if (p === '/redirect') return Response.redirect('http://example.test/there', 307);
      if (p === '/error') return Response.error();
      if (p === '/clone') {
        const r = new Response('cloned body', { status: 203 });
        const c = r.clone();
        assert.equal(await r.text(), 'cloned body');
        assert.equal(r.bodyUsed, true);
        return c;
      }
      if (p === '/used') {
        const r = new Response('read already');
        await r.text();
        return r;
      }
      return new Response('?');
    },
    async (s) => {
      const get = (p: string) => request1(s.port, `GET ${p} HTTP/1.1\r\n${H}\r\n`);
      const red = await get('/redirect');
      assert.equal(red.status, 307);
      assert.equal(red.get('location'), 'http://example.test/there');
      assert.equal((await get('/error')).status, 500);
      const c = await get('/clone');
      assert.equal(c.status, 203);
      assert.equal(c.body.toString(), 'cloned body');
      assert.equal((await get('/used')).status, 500);
      assert.equal(errors.length, 2, 'Response.error() and a used body are reported');
    },
    errors,
  );
});

test('204 and 304 have no body and no Content-Length; HEAD gets the GET head without a body', async () => {
  await withFetch(
    (req) => {
      const p = new URL(req.url).pathname;
      if (p === '/204') return new Response(null, { status: 204, headers: { 'x-a': '1' } });
      if (p === '/304') return new Response(null, { status: 304, headers: { etag: '"v1"' } });
      return new Response('body for GET');
    },
    async (s) => {
      const ex = await exchange(
        s.port,
        `GET /204 HTTP/1.1\r\n${H}\r\nGET /304 HTTP/1.1\r\n${H}\r\nHEAD /x HTTP/1.1\r\n${H}\r\nGET /x HTTP/1.1\r\n${H}\r\n`,
        { responses: 4, head: [false, false, true, false] },
      );
      const [a, b, head, get] = ex.responses;
      assert.equal(a!.status, 204);
      assert.equal(a!.get('content-length'), undefined);
      assert.equal(a!.get('x-a'), '1');
      assert.equal(b!.status, 304);
      assert.equal(b!.get('etag'), '"v1"');
      assert.equal(head!.get('content-length'), '12');
      assert.equal(head!.body.length, 0);
      assert.equal(get!.body.toString(), 'body for GET');
      assert.ok(ex.raw.toString('latin1').endsWith('\r\n\r\nbody for GET'), 'nothing stray between the responses');
    },
  );
});

test('streamed and endless bodies: the client leaving mid-stream cancels the stream; the server goes on', async () => {
  let pulls = 0;
  let cancelled = 0;
  await withFetch(
    (req) => {
      if (new URL(req.url).pathname === '/ok') return new Response('still here');
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            pulls++;
            c.enqueue(new Uint8Array(16 * 1024).fill(0x61)); // endless: only backpressure slows it
          },
          cancel() {
            cancelled++;
          },
        }),
      );
    },
    async (s) => {
      for (let i = 0; i < 2; i++) {
        const c = await openSocket(s.port);
        c.sock.write(`GET /endless HTTP/1.1\r\n${H}\r\n`);
        await c.until((b) => b.length > 200_000, 3000);
        c.sock.destroy();
        await waitFor(() => cancelled === i + 1, 3000, 'the endless stream cancelled');
      }
      const before = pulls;
      assert.equal((await request1(s.port, `GET /ok HTTP/1.1\r\n${H}\r\n`)).body.toString(), 'still here');
      assert.equal(pulls, before, 'nothing pulls a cancelled stream');
    },
  );
});

test('a handler proxying `await fetch(other server)` straight through: status, headers, a 1 MiB chunked body', async () => {
  const big = Buffer.alloc(1024 * 1024, 0x62);
  const upstream = http.createServer((req, res) => {
    res.setHeader('x-upstream', req.url ?? '');
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.write(big.subarray(0, 1000));
    setTimeout(() => res.end(big.subarray(1000)), 5);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  try {
    await withFetch(
      (req) => fetch(`http://127.0.0.1:${up}${new URL(req.url).pathname}`),
      async (s) => {
        const r = await fetch(`${s.url}/a`);
        assert.equal(r.headers.get('x-upstream'), '/a');
        assert.equal(Buffer.from(await r.arrayBuffer()).equals(big), true);
        const m = await fetch(`${s.url}/missing`);
        assert.equal(m.status, 404);
        assert.equal((await m.arrayBuffer()).byteLength, big.length);
      },
    );
  } finally {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  }
});

test('Hono middleware: cors, etag (304), compress, logger, secure-headers', async () => {
  const logged: string[] = [];
  const app = new Hono();
  app.use('*', logger((line) => logged.push(line)));
  app.use('*', secureHeaders());
  app.use('/api/*', cors({ origin: 'http://site.test', allowMethods: ['GET', 'POST'] }));
  app.use('/etag/*', etag());
  app.use('/big', compress());
  app.get('/api/data', (c) => c.json({ data: 1 }));
  app.get('/etag/page', (c) => c.text('cacheable page'));
  app.get('/big', (c) => c.text('compress me '.repeat(1000)));
  await withFetch(app.fetch, async (s) => {
    const pre = await request1(s.port, `OPTIONS /api/data HTTP/1.1\r\n${H}Origin: http://site.test\r\nAccess-Control-Request-Method: POST\r\n\r\n`);
    assert.equal(pre.status, 204);
    assert.equal(pre.get('access-control-allow-origin'), 'http://site.test');
    assert.match(pre.get('access-control-allow-methods') ?? '', /POST/);
    const api = await request1(s.port, `GET /api/data HTTP/1.1\r\n${H}Origin: http://site.test\r\n\r\n`);
    assert.equal(api.body.toString(), '{"data":1}');
    assert.equal(api.get('access-control-allow-origin'), 'http://site.test');
    assert.equal(api.get('x-content-type-options'), 'nosniff');
    assert.ok(api.get('strict-transport-security'));
    const page = await request1(s.port, `GET /etag/page HTTP/1.1\r\n${H}\r\n`);
    const tag = page.get('etag');
    assert.ok(tag);
    assert.equal(page.body.toString(), 'cacheable page');
    const again = await request1(s.port, `GET /etag/page HTTP/1.1\r\n${H}If-None-Match: ${tag}\r\n\r\n`);
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const gz = await request1(s.port, `GET /big HTTP/1.1\r\n${H}Accept-Encoding: gzip\r\n\r\n`);
    assert.equal(gz.get('content-encoding'), 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), 'compress me '.repeat(1000));
    await waitFor(() => logged.some((l) => /--> GET \/big .*200/.test(l)), 2000, 'the logger line');
    assert.ok(logged.some((l) => /<-- OPTIONS \/api\/data/.test(l)));
  });
});

test('Hono streamSSE: events go out as they are written; the client leaving aborts the stream', async () => {
  const app = new Hono();
  let aborted = false;
  let next: (() => void) | undefined;
  app.get('/sse', (c) =>
    streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        aborted = true;
      });
      await stream.writeSSE({ event: 'hello', data: 'first' });
      await new Promise<void>((r) => (next = r));
      await stream.writeSSE({ data: 'second', id: '2' });
      while (!aborted) await stream.sleep(10);
    }),
  );
  await withFetch(app.fetch, async (s) => {
    const c = await openSocket(s.port);
    try {
      c.sock.write(`GET /sse HTTP/1.1\r\n${H}\r\n`);
      const first = (await c.until((b) => b.includes('data: first'), 3000)).toString('latin1');
      assert.match(first, /content-type: text\/event-stream/i);
      assert.match(first, /transfer-encoding: chunked/i);
      assert.match(first, /event: hello\ndata: first\n\n/);
      await waitFor(() => next !== undefined, 2000, 'the stream waiting');
      next!();
      await c.until((b) => b.includes('id: 2'), 3000);
    } finally {
      c.sock.resetAndDestroy(); // a FIN alone is a half-close: a quiet stream would not notice it
    }
    await waitFor(() => aborted, 3000, 'the SSE stream aborted');
  });
});

test('a synchronous fetch handler is answered in the turn it returns (no promise reaches the connection)', async () => {
  const { fromFetch } = await import('../../src/http/fetch.js');
  let inTurn = 0;
  const handler = fromFetch(() => new Response('now'));
  await serve({ port: 0, handler: (req, res, ctx) => {
    const r = handler(req, res, ctx);
    if (r === undefined && res.finished) inTurn++;
  } }).then(async (s) => {
    try {
      const ex = await exchange(s.port, `GET / HTTP/1.1\r\n${H}\r\nGET / HTTP/1.1\r\n${H}\r\n`, { responses: 2 });
      assert.deepEqual(ex.responses.map((r) => r.body.toString()), ['now', 'now']);
      assert.equal(inTurn, 2);
    } finally {
      await s.stop({ timeout: 2000 });
    }
  });
  assert.ok(new RealResponse('x') instanceof Response);
});
