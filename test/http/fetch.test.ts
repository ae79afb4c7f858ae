/**
 * The Web-standard API: fetch(Request) => Response handlers, streaming both
 * ways, errors, and a Hono app served unchanged. Handlers that await real I/O
 * (timers, fetch to another server) work because the loop is driven by libuv.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Hono } from 'hono';
import { sleep, waitFor } from '../helpers.js';
import { withFetch } from './fetch-server.js';
import { exchange, openSocket, request1 } from './wire.js';

const H = 'Host: t\r\n';

test('fetch handler: method, URL, headers and body of the Request; status and headers of the Response', async () => {
  await withFetch(
    async (req) => {
      const url = new URL(req.url);
      return Response.json(
        {
          method: req.method,
          url: req.url,
          q: url.searchParams.get('q'),
          ua: req.headers.get('x-agent'),
          body: req.method === 'GET' ? null : await req.text(),
        },
        { status: 201, headers: { 'x-served-by': 'edgeloop' } },
      );
    },
    async (s) => {
      const r = await fetch(`${s.url}/path?q=1`, { method: 'POST', body: 'payload', headers: { 'X-Agent': 'test' } });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('x-served-by'), 'edgeloop');
      assert.equal(r.headers.get('content-type'), 'application/json');
      const j = (await r.json()) as Record<string, unknown>;
      assert.equal(j.method, 'POST');
      assert.equal(j.url, `http://127.0.0.1:${s.port}/path?q=1`);
      assert.equal(j.q, '1');
      assert.equal(j.ua, 'test');
      assert.equal(j.body, 'payload');
      const g = await request1(s.port, `GET /x HTTP/1.1\r\n${H}\r\n`);
      assert.equal(g.status, 201);
      assert.ok(g.get('content-length'), 'a one-chunk body gets a Content-Length');
    },
  );
});

test('fetch handler: streamed response bodies are chunked; Set-Cookie fields stay separate', async () => {
  await withFetch(
    () => {
      const enc = new TextEncoder();
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 2));
          if (i < 3) c.enqueue(enc.encode(`part${i++};`));
          else c.close();
        },
      });
      const h = new Headers({ 'content-type': 'text/plain' });
      h.append('set-cookie', 'a=1; Path=/');
      h.append('set-cookie', 'b=2');
      return new Response(body, { headers: h });
    },
    async (s) => {
      const r = await request1(s.port, `GET / HTTP/1.1\r\n${H}\r\n`);
      assert.equal(r.get('transfer-encoding'), 'chunked');
      assert.equal(r.body.toString(), 'part0;part1;part2;');
      assert.deepEqual(
        r.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v),
        ['a=1; Path=/', 'b=2'],
      );
    },
  );
});

test('fetch handler: request bodies stream (a 4 MiB upload read with a reader)', async () => {
  await withFetch(
    async (req) => {
      let total = 0;
      const reader = req.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
      }
      return new Response(String(total));
    },
    async (s) => {
      const body = new Uint8Array(4 * 1024 * 1024);
      const r = await fetch(`${s.url}/up`, { method: 'PUT', body });
      assert.equal(await r.text(), String(body.length));
    },
  );
});

test('fetch handler: a throw, a rejection or a non-Response gives 500; the server goes on', async () => {
  const errors: unknown[] = [];
  await withFetch(
    async (req) => {
      const p = new URL(req.url).pathname;
      if (p === '/throw') throw new Error('boom (expected by the test)');
      if (p === '/not-response') return { nope: true } as unknown as Response;
      return new Response('fine');
    },
    async (s) => {
      const ex = await exchange(s.port, `GET /throw HTTP/1.1\r\n${H}\r\nGET /not-response HTTP/1.1\r\n${H}\r\nGET /ok HTTP/1.1\r\n${H}\r\n`, {
        responses: 3,
      });
      assert.deepEqual(
        ex.responses.map((r) => r.status),
        [500, 500, 200],
      );
      assert.equal(errors.length, 2);
    },
    errors,
  );
});

test('fetch handler: HEAD gets headers only; CONNECT is refused with 501', async () => {
  await withFetch(
    () => new Response('body for GET', { headers: { 'content-type': 'text/plain' } }),
    async (s) => {
      const ex = await exchange(s.port, `HEAD / HTTP/1.1\r\n${H}\r\nGET / HTTP/1.1\r\n${H}\r\n`, { responses: 2, head: [true, false] });
      assert.equal(ex.responses[0]!.body.length, 0);
      assert.equal(ex.responses[0]!.get('content-length'), '12');
      assert.equal(ex.responses[1]!.body.toString(), 'body for GET');
      assert.equal((await request1(s.port, `CONNECT a.example:443 HTTP/1.1\r\n${H}\r\n`)).status, 501);
    },
  );
});

test('handlers that await real I/O work: a timer and a fetch to another server', async () => {
  const upstream = http.createServer((_req, res) => res.end('from upstream'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  try {
    await withFetch(
      async () => {
        await new Promise((r) => setTimeout(r, 20));
        const u = await fetch(`http://127.0.0.1:${up}/`);
        return new Response(`proxied: ${await u.text()}`);
      },
      async (s) => {
        const results = await Promise.all(Array.from({ length: 10 }, () => fetch(`${s.url}/`).then((r) => r.text())));
        assert.deepEqual(results, Array(10).fill('proxied: from upstream'));
      },
    );
  } finally {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  }
});

test('a Hono app runs on edgeloop unchanged', async () => {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    c.header('x-powered-by', 'hono-on-edgeloop');
  });
  app.get('/', (c) => c.text('Hello Hono!'));
  app.get('/users/:id', (c) => c.json({ id: c.req.param('id'), q: c.req.query('q') ?? null }));
  app.post('/echo', async (c) => c.json({ got: await c.req.json() }, 201));
  app.get('/redirect', (c) => c.redirect('/'));
  app.notFound((c) => c.text('nope', 404));
  app.onError((err, c) => c.text(`handled: ${err.message}`, 500));
  app.get('/fail', () => {
    throw new Error('hono route failed (expected by the test)');
  });

  await withFetch(app.fetch, async (s) => {
    const root = await fetch(`${s.url}/`);
    assert.equal(await root.text(), 'Hello Hono!');
    assert.equal(root.headers.get('x-powered-by'), 'hono-on-edgeloop');
    assert.deepEqual(await (await fetch(`${s.url}/users/42?q=x`)).json(), { id: '42', q: 'x' });
    const post = await fetch(`${s.url}/echo`, { method: 'POST', body: JSON.stringify({ a: [1, 2] }), headers: { 'content-type': 'application/json' } });
    assert.equal(post.status, 201);
    assert.deepEqual(await post.json(), { got: { a: [1, 2] } });
    const red = await fetch(`${s.url}/redirect`, { redirect: 'manual' });
    assert.equal(red.status, 302);
    assert.equal(red.headers.get('location'), '/');
    const nf = await fetch(`${s.url}/missing`);
    assert.equal(nf.status, 404);
    assert.equal(await nf.text(), 'nope');
    const fail = await fetch(`${s.url}/fail`);
    assert.equal(fail.status, 500);
    assert.match(await fail.text(), /handled: hono route failed/);
  });
});

test('fetch handler: a streamed body goes out as it is produced (the head and first chunk do not wait for a second)', async () => {
  const enc = new TextEncoder();
  let ctrl: ReadableStreamDefaultController<Uint8Array> | undefined;
  await withFetch(
    () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            ctrl = c;
            c.enqueue(enc.encode('data: first\n\n')); // an SSE stream's first event; the next comes much later
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      ),
    async (s) => {
      const c = await openSocket(s.port);
      try {
        c.sock.write(`GET /events HTTP/1.1\r\n${H}\r\n`);
        const got = await c.until((b) => b.includes('data: first'), 1500);
        assert.match(got.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(got.toString('latin1'), /transfer-encoding: chunked/i);
        ctrl!.enqueue(enc.encode('data: second\n\n'));
        ctrl!.close();
        await c.until((b) => b.includes('data: second') && b.includes('\r\n0\r\n\r\n'), 1500);
      } finally {
        c.sock.destroy();
      }
    },
  );
});

test('fetch handler: a stream that has nothing yet still gets its head out at once', async () => {
  let ctrl: ReadableStreamDefaultController<Uint8Array> | undefined;
  await withFetch(
    () => new Response(new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) }), { headers: { 'content-type': 'text/event-stream' } }),
    async (s) => {
      const c = await openSocket(s.port);
      try {
        c.sock.write(`GET /events HTTP/1.1\r\n${H}\r\n`);
        const got = await c.until((b) => b.includes('\r\n\r\n'), 1500);
        assert.match(got.toString('latin1'), /text\/event-stream/);
        ctrl!.enqueue(new TextEncoder().encode('late'));
        ctrl!.close();
        await c.until((b) => b.includes('late') && b.includes('\r\n0\r\n\r\n'), 1500);
      } finally {
        c.sock.destroy();
      }
    },
  );
});

test('fetch handler: HEAD never pulls an endless streamed body; the connection goes on', async () => {
  let pulls = 0;
  let cancelled = false;
  await withFetch(
    (req) => {
      if (new URL(req.url).pathname === '/next') return new Response('next');
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            pulls++;
            c.enqueue(new Uint8Array(1024)); // endless and always ready: only backpressure could stop it
          },
          cancel() {
            cancelled = true;
          },
        }),
        { headers: { 'content-type': 'application/octet-stream' } },
      );
    },
    async (s) => {
      const ex = await exchange(s.port, `HEAD /stream HTTP/1.1\r\n${H}\r\nGET /next HTTP/1.1\r\n${H}\r\n`, {
        responses: 2,
        head: [true, false],
        timeout: 3000,
      });
      assert.equal(ex.responses.length, 2, `got ${JSON.stringify(ex.raw.toString('latin1').slice(0, 300))}`);
      const head = ex.responses[0]!;
      assert.equal(head.status, 200);
      assert.equal(head.get('content-type'), 'application/octet-stream');
      assert.notEqual(head.get('content-length'), '0', 'an unknown length is not announced as 0');
      assert.equal(ex.responses[1]!.body.toString(), 'next');
      await waitFor(() => cancelled, 2000, 'the HEAD response body cancelled');
      assert.ok(pulls < 100, `the body was pulled ${pulls} times for a HEAD request`);
    },
  );
});

test('fetch handler: request.signal aborts when the client goes away; a pending stream is cancelled', async () => {
  let aborted = 0;
  let cancelled = false;
  let reached = 0;
  await withFetch(
    async (req) => {
      reached++;
      req.signal.addEventListener('abort', () => aborted++);
      if (new URL(req.url).pathname === '/slow') {
        await new Promise((r) => setTimeout(r, 300));
        return new Response('too late');
      }
      // A stream with nothing to say for now (a quiet event stream).
      return new Response(new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) }));
    },
    async (s) => {
      // The client resets: a FIN alone is a half-close, after which the reply still goes out.
      for (const path of ['/slow', '/quiet']) {
        const c = await openSocket(s.port);
        c.sock.write(`GET ${path} HTTP/1.1\r\n${H}\r\n`);
        await waitFor(() => reached > 0, 2000, 'the handler called');
        reached = 0;
        if (path === '/quiet') await c.until((b) => b.includes('\r\n\r\n'), 2000);
        c.sock.resetAndDestroy();
      }
      await waitFor(() => aborted === 2, 2000, 'both request signals aborted');
      await waitFor(() => cancelled, 2000, 'the quiet stream cancelled');
      // A request answered in full is not aborted afterwards.
      const r = await request1(s.port, `GET /slow HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.equal(r.body.toString(), 'too late');
      await sleep(50);
      assert.equal(aborted, 2);
    },
  );
});

test('fetch handler: stream chunks that are ArrayBuffers or other views arrive intact; a non-bytes chunk is an error, not a silent drop', async () => {
  const errors: unknown[] = [];
  const enc = new TextEncoder();
  await withFetch(
    (req) => {
      const bad = new URL(req.url).pathname === '/bad';
      const items: unknown[] = bad
        ? [enc.encode('so far;'), 42, enc.encode('never')]
        : [enc.encode('ab').buffer, new Uint16Array(enc.encode('CDEF').buffer), enc.encode('!')];
      return new Response(
        new ReadableStream({
          async pull(c) {
            await new Promise((r) => setTimeout(r, 1)); // really streamed, chunk by chunk
            if (items.length > 0) c.enqueue(items.shift() as Uint8Array);
            else c.close();
          },
        }),
      );
    },
    async (s) => {
      const ok = await request1(s.port, `GET /ok HTTP/1.1\r\n${H}\r\n`);
      assert.equal(ok.body.toString('latin1'), 'abCDEF!');
      const bad = await exchange(s.port, `GET /bad HTTP/1.1\r\n${H}\r\n`);
      assert.equal(bad.closed, true);
      assert.equal(bad.responses.length, 0, 'a cut chunked response never looks complete');
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof TypeError);
    },
    errors,
  );
});
