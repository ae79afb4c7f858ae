/**
 * HTTP semantics found by a hostile-input probe, over raw sockets: the native and the fetch
 * API see the same path and host for the same bytes, absolute-form targets agree with Host,
 * chunked takes no parameters, a response after which the server closes says so, the whole
 * exchange has a deadline (requestTimeout) and a new connection is timed from accept, and a
 * fetch body stream's string chunks are sent as UTF-8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type Handler, type HttpServer, type ServeOptions } from '../../src/http/index.js';
import { handler as demo } from '../../src/http/demo.js';
import { freePort, requireTool, sleep } from '../helpers.js';
import { startDaemon, startNginx, tempDir } from '../ops/tools.js';
import { exchange, expectErrorAndClose, openSocket, parseResponses, request1 } from './wire.js';

const H = 'Host: t\r\n';

async function withServer(opts: Partial<ServeOptions>, fn: (s: HttpServer) => Promise<void>): Promise<void> {
  const app = opts.fetch ?? opts.handler ? {} : { handler: demo };
  const s = await serve({ port: 0, ...app, ...opts } as ServeOptions);
  try {
    await fn(s);
  } finally {
    await s.stop({ timeout: 2000 });
  }
}

/** What a native handler and a fetch handler see of the same request: "path host" or the status. */
const nativeSees: Handler = (req, res) => res.end(`${req.path} ${req.host}`);
const fetchSees = (r: Request): Response => {
  const u = new URL(r.url);
  return new Response(`${u.pathname} ${u.host}`);
};

async function bothSee(target: string, host = H): Promise<[string, string]> {
  const seen: string[] = [];
  for (const opts of [{ handler: nativeSees }, { fetch: fetchSees }]) {
    await withServer(opts, async (s) => {
      const r = await request1(s.port, `GET ${target} HTTP/1.1\r\n${host}\r\n`);
      seen.push(r.status === 200 ? r.body.toString() : String(r.status));
    });
  }
  return [seen[0]!, seen[1]!];
}

test('native and fetch handlers see the same path: dot-segments removed alike, climbing above the root is 400', async () => {
  const cases: [string, string][] = [
    ['/public/../admin', '/admin t'],
    ['/public/%2e%2e/admin', '/admin t'],
    ['/public/%2E./admin', '/admin t'],
    ['/public/.%2e/admin?x=/../y', '/admin t'],
    ['/a/./b/.', '/a/b/ t'],
    ['/a/b/..', '/a/ t'],
    ['/a//../b', '/a/b t'],
    ['/.well-known/x', '/.well-known/x t'],
    ['/a..b/c.', '/a..b/c. t'],
    ['/../admin', '400'],
    ['/public/../../admin', '400'],
    ['/%2e%2e/admin', '400'],
    ['/public/..\\admin', '400'],
    ['/a\\b', '400'],
  ];
  for (const [target, want] of cases) {
    const [native, fetched] = await bothSee(target);
    assert.equal(native, want, `native ${target}`);
    assert.equal(fetched, want, `fetch ${target}`);
  }
});

test('dot-segments: the path nginx resolves ($uri) is the native req.path; what nginx refuses above the root, edgeloop refuses', async (t) => {
  if (!requireTool(t, 'nginx')) return;
  const dir = tempDir(t, 'edgeloop-nginx-paths-');
  const port = await freePort();
  await startNginx(t, dir, port, {
    workerConnections: 64,
    http: `  server {
    listen 127.0.0.1:${port};
    location / { return 200 "$uri"; }
  }`,
  });
  const seen = async (p: number, target: string): Promise<string> => {
    const r = await request1(p, `GET ${target} HTTP/1.1\r\n${H}\r\n`);
    return r.status === 200 ? r.body.toString() : String(r.status);
  };
  await withServer({ handler: (req, res) => res.end(req.path) }, async (s) => {
    for (const target of ['/public/../admin', '/public/%2e%2e/admin', '/public/%2E./admin', '/a/./b/.', '/a/b/..', '/x/../../admin', '/../admin', '/%2e%2e/admin']) {
      assert.equal(await seen(s.port, target), await seen(port, target), target);
    }
  });
});

test('curl --path-as-is: the native path a prefix check sees is the resolved one', async (t) => {
  const curlPath = requireTool(t, 'curl');
  if (!curlPath) return;
  await withServer({ handler: nativeSees }, async (s) => {
    const curl = (path: string): Promise<string> =>
      new Promise((resolve) =>
        execFile(curlPath, ['-s', '--path-as-is', '-w', ' %{http_code}', `${s.url}${path}`], (_e, out) => resolve(out)),
      );
    assert.equal(await curl('/public/../admin'), `/admin 127.0.0.1:${s.port} 200`);
    assert.match(await curl('/../admin'), / 400$/);
  });
});

test('absolute-form: empty authority and userinfo are 400; Host must name the same authority; both APIs agree on host', async () => {
  await withServer({}, async (s) => {
    await expectErrorAndClose(s.port, `GET http:///hello HTTP/1.1\r\n${H}\r\n`, 400);
    await expectErrorAndClose(s.port, `GET http://u:p@t/hello HTTP/1.1\r\n${H}\r\n`, 400);
    await expectErrorAndClose(s.port, `GET http://@t/hello HTTP/1.1\r\n${H}\r\n`, 400);
    await expectErrorAndClose(s.port, `GET http://admin/hello HTTP/1.1\r\n${H}\r\n`, 400);
    await expectErrorAndClose(s.port, `GET http://t:81/hello HTTP/1.1\r\n${H}\r\n`, 400);
  });
  assert.deepEqual(await bothSee('http://T:80/a/../b?q', H), ['/b T:80', '/b t']);
  assert.deepEqual(await bothSee('https://t:443/x', H), ['/x t:443', '/x t']);
  assert.deepEqual(await bothSee('http://t/x', 'Host: t:80\r\n'), ['/x t', '/x t']);
  // HTTP/1.0 without Host: the target's authority is the host.
  await withServer({ handler: nativeSees }, async (s) => {
    const r = await request1(s.port, 'GET http://h.example/p HTTP/1.0\r\n\r\n');
    assert.equal(r.body.toString(), '/p h.example');
  });
});

test('Transfer-Encoding: chunked with a parameter is 400 (chunked takes none), as Node answers', async () => {
  const requests = [
    `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked;x=1\r\n\r\n1\r\na\r\n0\r\n\r\n`,
    `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked ; q=1\r\n\r\n0\r\n\r\n`,
  ];
  await withServer({}, async (s) => {
    for (const r of requests) await expectErrorAndClose(s.port, r, 400);
  });
  const node = http.createServer((req, res) => req.resume().on('end', () => res.end('accepted')));
  await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
  try {
    for (const r of requests) {
      const ex = await exchange((node.address() as AddressInfo).port, r);
      assert.equal(ex.responses[0]?.status, 400, 'Node refuses it too');
    }
  } finally {
    node.closeAllConnections();
    await new Promise((resolve) => node.close(resolve));
  }
});

test('answered before its body (Expect: 100-continue, no 100 sent): the body is discarded and the pipelined GET answered', async () => {
  await withServer({}, async (s) => {
    const body = 'x'.repeat(20);
    const ex = await exchange(
      s.port,
      `DELETE /echo HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /hello HTTP/1.1\r\n${H}\r\n`,
      { responses: 2 },
    );
    assert.deepEqual(ex.responses.map((r) => r.status), [405, 200]);
    assert.equal(ex.responses[0]!.get('connection'), undefined, 'keep-alive announced');
    assert.equal(ex.responses[1]!.body.toString(), 'hello');
  });
});

test('every response after which the server closes says Connection: close', async () => {
  const handler: Handler = async (req, res) => {
    if (req.path === '/short') {
      res.setHeader('Content-Length', 10);
      res.end('abc'); // shorter than announced: the connection cannot be reused
    } else {
      res.setHeader('Connection', 'close');
      res.end('bye');
    }
  };
  await withServer({ handler, maxRequestsPerConnection: 2 }, async (s) => {
    for (const req of [
      `GET /close HTTP/1.1\r\n${H}\r\n`,
      `GET /a HTTP/1.1\r\n${H}\r\nGET /b HTTP/1.1\r\n${H}\r\n`,
      `GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
      'GET /a HTTP/1.0\r\n\r\n',
      `POST /close HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\nzz\r\n`,
    ]) {
      const ex = await exchange(s.port, req);
      assert.equal(ex.closed, true, req);
      const last = ex.responses.at(-1)!;
      if (last.status >= 200) assert.equal(last.get('connection'), 'close', JSON.stringify(req));
    }
  });
});

const quick = { headersTimeout: 200, bodyTimeout: 10_000, keepAliveTimeout: 10_000, requestTimeout: 400 };

test('requestTimeout: a body trickled forever gets 408; a handler that never answers gets 408; one that started gets a close', async () => {
  const handler: Handler = async (req, res) => {
    if (req.path === '/never') return; // never ends
    if (req.path === '/started') {
      res.write('partial');
      return;
    }
    await req.bytes();
    res.end('got it');
  };
  await withServer({ handler, ...quick }, async (s) => {
    const c = await openSocket(s.port);
    c.sock.write(`POST /up HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n`);
    const drip = setInterval(() => c.isClosed() || c.sock.write('x'), 20); // progress: bodyTimeout never fires
    try {
      await c.closed();
    } finally {
      clearInterval(drip);
    }
    const r = parseResponses(c.received()).responses;
    assert.deepEqual(r.map((x) => [x.status, x.get('connection')]), [[408, 'close']]);

    await expectErrorAndClose(s.port, `GET /never HTTP/1.1\r\n${H}\r\n`, 408);

    const started = await exchange(s.port, `GET /started HTTP/1.1\r\n${H}\r\n`);
    assert.equal(started.closed, true);
    assert.match(started.raw.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[^]*partial\r\n$/);
    assert.ok(!started.raw.toString('latin1').includes('408'), 'no 408 after a response began');
  });
});

test('requestTimeout covers a streamed response too; 0 means no limit (server-sent events)', async () => {
  const handler: Handler = async (_req, res) => {
    for (let i = 0; i < 8; i++) {
      res.write(`tick ${i}\n`);
      await sleep(100); // 800 ms in all, twice requestTimeout
    }
    res.end('done\n');
  };
  await withServer({ handler, ...quick }, async (s) => {
    const cut = await exchange(s.port, `GET /stream HTTP/1.1\r\n${H}\r\n`);
    assert.equal(cut.closed, true);
    assert.doesNotMatch(cut.raw.toString('latin1'), /done/);
  });
  await withServer({ handler, ...quick, requestTimeout: 0 }, async (s) => {
    const r = await request1(s.port, `GET /stream HTTP/1.1\r\n${H}\r\n`, { timeout: 5000 });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /tick 7\ndone\n$/);
    assert.equal(r.closed, false);
  });
});

test('headersTimeout counts from accept: a connection idle, then trickling a head, is cut at the deadline from accept', async () => {
  await withServer({ ...quick, requestTimeout: 10_000, headersTimeout: 1000 }, async (s) => {
    const c = await openSocket(s.port);
    await sleep(600); // idle most of the headers timeout
    c.sock.write('GET /hello HTTP/1.1\r\n');
    const drip = setInterval(() => c.isClosed() || c.sock.write('X'), 20);
    try {
      // Timed from the first byte, the deadline could not come before 1000 ms from now.
      const closedEarly = await Promise.race([c.closed().then(() => true), sleep(850).then(() => false)]);
      assert.ok(closedEarly, 'still open 850 ms after the first byte: the header timer started at the first byte, not at accept');
    } finally {
      clearInterval(drip);
      c.sock.destroy();
    }
    assert.equal(parseResponses(c.received()).responses[0]?.status, 408);
  });
});

test('fetch: string chunks in a response stream are sent as UTF-8; any other non-bytes chunk errors the response', async () => {
  const errors: unknown[] = [];
  const fetchFn = (r: Request): Response => {
    const kind = new URL(r.url).pathname;
    const chunks: unknown[] = kind === '/strings' ? ['h\u00e9', new TextEncoder().encode('-'), 'llo \u{1f600}'] : ['ok;', 42, 'never'];
    return new Response(
      new ReadableStream({
        async pull(c) {
          await sleep(5); // not all at once: streamed, chunked
          const next = chunks.shift();
          if (next === undefined) c.close();
          else c.enqueue(next as Uint8Array);
        },
      }),
    );
  };
  await withServer({ fetch: fetchFn, onError: (e) => errors.push(e) }, async (s) => {
    const ok = await request1(s.port, `GET /strings HTTP/1.1\r\n${H}\r\n`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString('utf8'), 'h\u00e9-llo \u{1f600}');
    const bad = await exchange(s.port, `GET /number HTTP/1.1\r\n${H}\r\n`);
    assert.equal(bad.closed, true);
    assert.equal(parseResponses(bad.raw).responses.length, 0, 'the chunked body never looks complete');
    assert.match(String(errors[0]), /TypeError/);
  });
});
