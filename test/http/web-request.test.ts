/**
 * The lazy Web Request the fetch adapter hands to handlers: a Request in every observable way,
 * but a real undici Request (and the body stream) only once something needs it. Unit tests on
 * a stub native request (to count body streams), then over a real server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { RequestHeaders, serve, toWebRequest, type HttpRequest } from '../../src/http/index.js';
import { lazyRequests, webUrl } from '../../src/http/web-request.js';
import { withFetch } from './fetch-server.js';

/** Enough of an HttpRequest for toWebRequest; counts the body streams made. */
function stub(method: string, target: string, headers: [string, string][], body?: string) {
  const abort = new AbortController();
  const counts = { streams: 0 };
  const req = {
    method,
    url: target,
    host: 'example.test:8080',
    headers: new RequestHeaders(headers.flatMap(([k, v]) => [k.toLowerCase(), v])), // names lower-cased, as parsed
    signal: abort.signal,
    body: {
      expectedLength: body === undefined ? 0 : body.length,
      ended: body === undefined,
      stream: (): ReadableStream<Uint8Array> => {
        counts.streams++;
        return new Blob([body ?? '']).stream();
      },
    },
  } as unknown as HttpRequest;
  return { req, abort, counts };
}

test('lazy requests are in use on this Node (undici copies them)', () => {
  assert.equal(lazyRequests, true);
});

test('lazy request: a Request to instanceof, toString and constructor; method, url, headers, signal are its own', () => {
  const { req, abort, counts } = stub('get', '/a/b?x=1', [['x-one', '1'], ['Accept', 'text/html']]);
  const r = toWebRequest(req);
  assert.ok(r instanceof Request);
  assert.equal(Object.prototype.toString.call(r), '[object Request]');
  assert.equal(r.constructor, Request);
  assert.equal(r.method, 'GET', 'normalized as undici does');
  assert.equal(r.url, 'http://example.test:8080/a/b?x=1');
  assert.ok(r.headers instanceof Headers);
  assert.equal(r.headers, r.headers, 'one Headers, made once');
  assert.equal(r.headers.get('accept'), 'text/html');
  assert.equal(r.signal, req.signal, 'the native signal');
  abort.abort();
  assert.equal(r.signal.aborted, true);
  assert.equal(counts.streams, 0);
  // the rest is a real Request's
  assert.equal(r.body, null);
  assert.equal(r.bodyUsed, false);
  assert.equal(r.cache, 'default');
  assert.equal(r.credentials, 'same-origin');
  assert.equal(r.mode, 'cors');
  assert.equal(r.redirect, 'follow');
  assert.equal(r.referrer, 'about:client');
  assert.equal(r.integrity, '');
  assert.equal(r.keepalive, false);
  assert.equal((r as Request & { duplex: string }).duplex, 'half');
  assert.match(inspect(r), /Request/);
});

test('lazy request: json() of a POST body; the body stream is made once, bodyUsed follows, a second read fails', async () => {
  const { req, counts } = stub('POST', '/j', [['content-type', 'application/json']], '{"a":[1,2]}');
  const r = toWebRequest(req);
  assert.equal(r.method, 'POST');
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(counts.streams, 0, 'method and headers do not make the body');
  assert.equal(r.bodyUsed, false);
  assert.ok(r.body instanceof ReadableStream);
  assert.equal(counts.streams, 1);
  assert.equal(r.body, r.body, 'one stream');
  assert.deepEqual(await r.json(), { a: [1, 2] });
  assert.equal(r.bodyUsed, true);
  await assert.rejects(r.text(), TypeError);
  assert.equal(counts.streams, 1);
});

test('lazy request: clone() gives two readable bodies; arrayBuffer, blob, formData work', async () => {
  const { req, counts } = stub('PUT', '/c', [['content-type', 'application/x-www-form-urlencoded']], 'a=1&b=2');
  const r = toWebRequest(req);
  const c = r.clone();
  assert.ok(c instanceof Request);
  assert.equal(c.url, r.url);
  assert.equal(c.method, 'PUT');
  assert.equal(c.signal.aborted, false);
  const form = await c.formData();
  assert.equal(form.get('b'), '2');
  assert.equal(new TextDecoder().decode(await r.arrayBuffer()), 'a=1&b=2');
  assert.equal(counts.streams, 1);
  const { req: req2 } = stub('POST', '/b', [], 'xyz');
  assert.equal(await toWebRequest(req2).blob().then((b) => b.text()), 'xyz');
});

test('lazy request: new Request(request) and fetch-style copies see URL, method, headers (as changed), body and signal', async () => {
  const { req, abort, counts } = stub('POST', '/copy?q=1', [['x-a', '1']], 'payload');
  const r = toWebRequest(req);
  r.headers.set('x-b', '2'); // a handler's change before copying
  const copy = new Request(r);
  assert.equal(copy.url, 'http://example.test:8080/copy?q=1');
  assert.equal(copy.method, 'POST');
  assert.equal(copy.headers.get('x-a'), '1');
  assert.equal(copy.headers.get('x-b'), '2');
  assert.equal(await copy.text(), 'payload');
  assert.equal(r.bodyUsed, true, 'the copy took the body, as with any Request');
  assert.equal(counts.streams, 1);
  assert.equal(copy.signal.aborted, false);
  abort.abort();
  assert.equal(copy.signal.aborted, true, 'a copy follows the client');

  const { req: get } = stub('GET', '/g', [['x-c', '3']]);
  const moved = new Request('http://elsewhere.test/up', toWebRequest(get)); // as RequestInit
  assert.equal(moved.method, 'GET');
  assert.equal(moved.headers.get('x-c'), '3');
  const overridden = new Request(toWebRequest(get), { method: 'DELETE' });
  assert.equal(overridden.method, 'DELETE');
  assert.equal(overridden.url, 'http://example.test:8080/g');
});

test('webUrl: the URL parser serialization, fast path or not', () => {
  const cases: [string, string][] = [
    ['localhost', '/a?b=c'],
    ['Example.COM:80', '/x'],
    ['h', '/a/../b/./c'],
    ['h', "/q?x='y'"],
    ['0x7f.1:3000', '/'],
    ['[::1]:8080', '/%2e%2E/a'],
    ['h', '/a b|c'],
  ];
  for (const [host, target] of cases) {
    const req = { url: target, host } as unknown as HttpRequest;
    assert.equal(webUrl(req), new Request(`http://${host}${target}`).url, `${host} ${target}`);
  }
  assert.throws(() => webUrl({ url: '/', host: 'a b' } as unknown as HttpRequest));
});

test('lazy request over a server: copy, clone and proxying by RequestInit, with a POST body', async () => {
  const upstream = await serve({
    port: 0,
    fetch: async (r) => Response.json({ method: r.method, h: r.headers.get('x-up'), body: await r.text() }),
  });
  try {
    await withFetch(
      async (request) => {
        const kind = new URL(request.url).pathname;
        if (kind === '/copy') {
          const copy = new Request(request);
          return Response.json({ instance: request instanceof Request, url: copy.url, body: await copy.text() });
        }
        if (kind === '/clone') {
          const c = request.clone();
          return Response.json({ a: await c.json(), b: await request.json(), used: request.bodyUsed });
        }
        // proxy: the incoming request as the init of one to the upstream server
        const headers = new Headers(request.headers);
        headers.set('x-up', 'yes');
        return fetch(new Request(`${upstream.url}/up`, { method: request.method, headers, body: request.body, duplex: 'half' } as RequestInit));
      },
      async (s) => {
        const copy = (await (await fetch(`${s.url}/copy`, { method: 'POST', body: 'one' })).json()) as Record<string, unknown>;
        assert.deepEqual(copy, { instance: true, url: `http://127.0.0.1:${s.port}/copy`, body: 'one' });
        const clone = (await (await fetch(`${s.url}/clone`, { method: 'POST', body: '{"n":1}' })).json()) as Record<string, unknown>;
        assert.deepEqual(clone, { a: { n: 1 }, b: { n: 1 }, used: true });
        const big = 'x'.repeat(300_000);
        const proxied = (await (await fetch(`${s.url}/proxy`, { method: 'POST', body: big })).json()) as Record<string, unknown>;
        assert.deepEqual(proxied, { method: 'POST', h: 'yes', body: big });
      },
    );
  } finally {
    await upstream.stop({ timeout: 2000 });
  }
});

test('lazy request over a server: text/json/arrayBuffer/bytes read straight from the connection; bodyUsed; a used body stays used', async () => {
  await withFetch(
    async (request) => {
      const kind = new URL(request.url).pathname;
      const out: Record<string, unknown> = { before: request.bodyUsed };
      if (kind === '/text') out.body = await request.text();
      else if (kind === '/json') out.body = await request.json();
      else if (kind === '/ab') out.body = new TextDecoder().decode(await request.arrayBuffer());
      else if (kind === '/bytes') out.body = Array.from(await (request as Request & { bytes(): Promise<Uint8Array> }).bytes());
      else if (kind === '/form') out.body = (await request.formData()).get('x');
      out.after = request.bodyUsed;
      out.again = await request.text().then(
        () => 'read twice',
        (e: unknown) => (e instanceof TypeError ? 'TypeError' : String(e)),
      );
      out.clone = (() => {
        try {
          request.clone();
          return 'cloned';
        } catch (e) {
          return e instanceof TypeError ? 'TypeError' : String(e);
        }
      })();
      out.stillUsed = request.bodyUsed;
      return Response.json(out);
    },
    async (s) => {
      const post = async (path: string, body: string | Uint8Array, type = 'text/plain') =>
        (await (await fetch(`${s.url}${path}`, { method: 'POST', body, headers: { 'content-type': type } })).json()) as Record<string, unknown>;
      const used = { before: false, after: true, again: 'TypeError', clone: 'TypeError', stillUsed: true };
      assert.deepEqual(await post('/text', '\ufeffhé'), { ...used, body: 'hé' }, 'UTF-8, a BOM dropped');
      assert.deepEqual(await post('/json', '{"n":[1]}'), { ...used, body: { n: [1] } });
      assert.deepEqual(await post('/ab', 'bytes'), { ...used, body: 'bytes' });
      assert.deepEqual(await post('/bytes', new Uint8Array([1, 2, 255])), { ...used, body: [1, 2, 255] });
      assert.deepEqual(await post('/form', 'x=1&y=2', 'application/x-www-form-urlencoded'), { ...used, body: '1' });
      const big = 'z'.repeat(1 << 20);
      assert.equal(((await post('/text', big)) as { body: string }).body.length, big.length);
      const get = (await (await fetch(`${s.url}/text`)).json()) as Record<string, unknown>;
      assert.deepEqual(get, { before: false, body: '', after: false, again: 'read twice', clone: 'cloned', stillUsed: false }, 'GET has no body to use up');
    },
  );
});

test('request.headers: a Headers over the parsed list; get/has read it, anything else (and changes) go through a real Headers', async () => {
  await withFetch(
    (request) => {
      const h = request.headers;
      const out: Record<string, unknown> = {
        instance: h instanceof Headers,
        tag: Object.prototype.toString.call(h),
        multi: h.get('X-Multi'),
        cookie: h.get('cookie'),
        missing: h.get('x-none'),
        has: [h.has('x-multi'), h.has('X-NONE')],
        bad: (() => {
          try {
            h.get('bad name');
            return 'no throw';
          } catch (e) {
            return e instanceof TypeError ? 'TypeError' : String(e);
          }
        })(),
      };
      out.keys = [...h.keys()].filter((k) => k.startsWith('x-') || k === 'cookie');
      h.set('x-added', 'yes');
      h.delete('x-multi');
      out.afterSet = [h.get('x-added'), h.has('x-multi')];
      out.copied = new Headers(h).get('x-added');
      out.viaRequest = new Request('http://elsewhere.test/', { headers: h }).headers.get('x-added');
      out.viaResponse = new Response(null, { headers: h }).headers.get('x-added');
      return Response.json(out);
    },
    async (s) => {
      const r = await fetch(`${s.url}/`, { headers: [['x-multi', 'a'], ['x-multi', 'b'], ['cookie', 'c=1'], ['cookie', 'd=2']] });
      assert.deepEqual(await r.json(), {
        instance: true,
        tag: '[object Headers]',
        multi: 'a, b',
        cookie: 'c=1; d=2',
        missing: null,
        has: [true, false],
        bad: 'TypeError',
        keys: ['cookie', 'x-multi'],
        afterSet: ['yes', false],
        copied: 'yes',
        viaRequest: 'yes',
        viaResponse: 'yes',
      });
    },
  );
});
