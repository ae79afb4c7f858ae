/**
 * The HTTP server over real sockets on 127.0.0.1: every protocol rule seen
 * from the wire (good requests answered, bad ones rejected with the right
 * status and a close), keep-alive, pipelining, HEAD/204/304, Date, errors in
 * handlers, Expect: 100-continue.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type HttpServer } from '../../src/http/index.js';
import { handler } from './app.js';
import { exchange, expectErrorAndClose, openSocket, parseResponses, request1 } from './wire.js';

let server: HttpServer;
let port: number;
const errors: unknown[] = [];

before(async () => {
  server = await serve({ port: 0, handler, onError: (e) => errors.push(e), limits: { maxBodyBytes: 1024 * 1024 } });
  port = server.port;
});
after(async () => {
  await server.stop({ timeout: 2000 });
});

const H = 'Host: t\r\n';

test('GET /hello: 200, Content-Length, Date, keep-alive by default', async () => {
  const r = await request1(port, `GET /hello HTTP/1.1\r\n${H}\r\n`);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'hello');
  assert.equal(r.get('content-length'), '5');
  assert.equal(r.get('content-type'), 'text/plain');
  assert.match(r.get('date')!, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  assert.equal(r.get('connection'), undefined);
  assert.equal(r.closed, false);
});

test('fetch() from Node gets the same answers', async () => {
  const r = await fetch(`${server.url}/hello`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'hello');
  const e = await fetch(`${server.url}/echo`, { method: 'POST', body: 'ping', headers: { 'content-type': 'text/x-test' } });
  assert.equal(e.headers.get('content-type'), 'text/x-test');
  assert.equal(await e.text(), 'ping');
});

test('request fields: method, path, query, headers (case-insensitive, null prototype), absolute-form', async () => {
  const r = await request1(
    port,
    `GET /info?a=1&b=x%20y HTTP/1.1\r\n${H}X-Mixed-Case: V\r\n__proto__: polluted\r\nconstructor: c\r\nAccept: a\r\nAccept: b\r\n\r\n`,
  );
  const j = JSON.parse(r.body.toString());
  assert.equal(j.method, 'GET');
  assert.equal(j.path, '/info');
  assert.equal(j.search, 'a=1&b=x%20y');
  assert.deepEqual(j.query, { a: '1', b: 'x y' });
  assert.equal(j.headers['x-mixed-case'], 'V');
  assert.equal(j.record.accept, 'a, b');
  assert.equal(j.record['__proto__'], 'polluted');
  assert.equal(j.protoClean, true);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const abs = JSON.parse((await request1(port, `GET http://other.example:81/info?z=1 HTTP/1.1\r\nHost: other.example:81\r\n\r\n`)).body.toString());
  assert.equal(abs.path, '/info');
  assert.equal(abs.host, 'other.example:81');
  assert.equal(abs.search, 'z=1');
});

test('malformed requests get their status and a close (400, 414, 431, 413, 505, 501, 417)', async () => {
  const cases: [string, string, number][] = [
    ['bare LF', `GET / HTTP/1.1\n${H}\r\n`, 400],
    ['bare CR', `GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n`, 400],
    ['obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, 400],
    ['space before colon', `GET / HTTP/1.1\r\n${H}X : a\r\n\r\n`, 400],
    ['NUL in value', `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, 400],
    ['control byte in value', `GET / HTTP/1.1\r\n${H}X: a\x07b\r\n\r\n`, 400],
    ['bad method', `G@T / HTTP/1.1\r\n${H}\r\n`, 400],
    ['bad header name', `GET / HTTP/1.1\r\n${H}X[]: a\r\n\r\n`, 400],
    ['missing Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['two Hosts', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
    ['CL and TE', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    ['two different CLs', `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 400],
    ['CL not digits', `POST / HTTP/1.1\r\n${H}Content-Length: 1x\r\n\r\nab`, 400],
    ['CL overflow', `POST / HTTP/1.1\r\n${H}Content-Length: 123456789012345678901234567890\r\n\r\n`, 400],
    ['chunked not last', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, 400],
    ['bad chunk size', `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 400],
    ['chunk size overflow', `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n`, 400],
    ['unknown TE', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501],
    ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 505],
    ['request line too long', `GET /${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, 414],
    ['header section too large', `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(17000)}\r\n\r\n`, 431],
    ['too many headers', `GET / HTTP/1.1\r\n${H}${'X: a\r\n'.repeat(101)}\r\n`, 431],
    ['body too large (declared)', `POST /echo HTTP/1.1\r\n${H}Content-Length: ${2 * 1024 * 1024}\r\n\r\n`, 413],
    ['unsupported expectation', `POST /echo HTTP/1.1\r\n${H}Expect: something\r\nContent-Length: 1\r\n\r\nx`, 417],
  ];
  for (const [name, raw, status] of cases) {
    await assert.doesNotReject(expectErrorAndClose(port, raw, status), name);
  }
});

test('chunked body too large while streaming: 413', async () => {
  const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
  await expectErrorAndClose(port, `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunk.repeat(17)}`, 413);
});

test('keep-alive: many requests on one connection; HTTP/1.0 closes unless keep-alive is asked', async () => {
  const reqs = Array.from({ length: 5 }, () => `GET /hello HTTP/1.1\r\n${H}\r\n`).join('');
  const ex = await exchange(port, reqs, { responses: 5 });
  assert.equal(ex.responses.length, 5);
  assert.equal(ex.closed, false);

  const r10 = await exchange(port, 'GET /hello HTTP/1.0\r\n\r\n');
  assert.equal(r10.responses[0]!.status, 200);
  assert.equal(r10.responses[0]!.get('connection'), 'close');
  assert.equal(r10.closed, true);

  const ka = await exchange(port, 'GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { responses: 2 });
  assert.equal(ka.responses.length, 2);
  assert.equal(ka.responses[0]!.get('connection'), 'keep-alive');
  assert.equal(ka.closed, false);
});

test('Connection: close from the client, or from the handler, closes after the response', async () => {
  const a = await exchange(port, `GET /hello HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /hello HTTP/1.1\r\n${H}\r\n`);
  assert.equal(a.responses.length, 1);
  assert.equal(a.responses[0]!.get('connection'), 'close');
  assert.equal(a.closed, true);
  const b = await exchange(port, `GET /close HTTP/1.1\r\n${H}\r\n`);
  assert.equal(b.responses[0]!.body.toString(), 'bye');
  assert.equal(b.responses[0]!.get('connection'), 'close');
  assert.equal(b.closed, true);
});

test('pipelining: 100 requests in one write, answered in order (sync and async handlers mixed)', async () => {
  let raw = '';
  for (let i = 0; i < 100; i++) {
    raw += i % 3 === 0 ? `GET /async?id=${i}&ms=${(i * 7) % 5} HTTP/1.1\r\n${H}\r\n` : `POST /echo HTTP/1.1\r\n${H}Content-Length: ${String(i).length}\r\n\r\n${i}`;
  }
  const ex = await exchange(port, raw, { responses: 100, timeout: 10000 });
  assert.equal(ex.responses.length, 100);
  ex.responses.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), i % 3 === 0 ? `async ${i}` : String(i));
  });
  assert.equal(ex.closed, false);
});

test('pipelining: responses to requests pipelined in one write leave in few sends', async () => {
  const s = await openSocket(port);
  try {
    const n = 50;
    s.sock.write(`GET /hello HTTP/1.1\r\n${H}\r\n`.repeat(n));
    // Count the TCP reads it takes; one send of all responses usually arrives in one or two reads.
    let reads = 0;
    s.sock.on('data', () => reads++);
    await s.until((b) => parseResponses(b).responses.length === n);
    assert.ok(reads <= 5, `responses arrived in ${reads} reads`);
  } finally {
    s.sock.destroy();
  }
});

test('HEAD: headers with the would-be Content-Length, no body; connection stays usable', async () => {
  const ex = await exchange(port, `HEAD /hello HTTP/1.1\r\n${H}\r\nGET /hello HTTP/1.1\r\n${H}\r\n`, { responses: 2, head: [true, false] });
  assert.equal(ex.responses[0]!.get('content-length'), '5');
  assert.equal(ex.responses[0]!.body.length, 0);
  assert.equal(ex.responses[1]!.body.toString(), 'hello');
});

test('204 and 304 carry no body (and 204 no Content-Length); the next response parses', async () => {
  const ex = await exchange(port, `GET /status/204 HTTP/1.1\r\n${H}\r\nGET /status/304 HTTP/1.1\r\n${H}\r\nGET /hello HTTP/1.1\r\n${H}\r\n`, {
    responses: 3,
  });
  assert.deepEqual(
    ex.responses.map((r) => r.status),
    [204, 304, 200],
  );
  assert.equal(ex.responses[0]!.get('content-length'), undefined);
  assert.equal(ex.responses[0]!.get('transfer-encoding'), undefined);
  assert.equal(ex.responses[2]!.body.toString(), 'hello');
});

test('streamed responses are chunked for HTTP/1.1 and close-delimited for HTTP/1.0', async () => {
  const a = await request1(port, `GET /stream HTTP/1.1\r\n${H}\r\n`);
  assert.equal(a.get('transfer-encoding'), 'chunked');
  assert.equal(a.body.toString(), 'one two three');
  const b = await exchange(port, 'GET /stream HTTP/1.0\r\n\r\n');
  assert.equal(b.closed, true);
  assert.equal(b.responses[0]!.get('transfer-encoding'), undefined);
  assert.equal(b.responses[0]!.body.toString(), 'one two three');
  const c = await request1(port, `GET /length HTTP/1.1\r\n${H}\r\n`);
  assert.equal(c.get('content-length'), '3');
  assert.equal(c.body.toString(), 'abc');
});

test('response headers: arrays, Set-Cookie kept apart, user Date respected, CRLF injection refused', async () => {
  const r = await request1(port, `GET /headers HTTP/1.1\r\n${H}\r\n`);
  assert.deepEqual(
    r.headers.filter(([k]) => k === 'x-multi').map(([, v]) => v),
    ['a', 'b'],
  );
  assert.deepEqual(
    r.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v),
    ['a=1', 'b=2'],
  );
  assert.equal(r.get('date'), 'Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(r.headers.filter(([k]) => k === 'date').length, 1);
  const bad = await request1(port, `GET /bad-header HTTP/1.1\r\n${H}\r\n`);
  assert.equal(bad.status, 500);
  assert.match(bad.body.toString(), /rejected: invalid character/);
  assert.equal(bad.get('injected'), undefined);
});

test('a handler that throws gives 500 and the connection (and server) go on', async () => {
  const before = errors.length;
  const ex = await exchange(port, `GET /throw HTTP/1.1\r\n${H}\r\nGET /reject HTTP/1.1\r\n${H}\r\nGET /hello HTTP/1.1\r\n${H}\r\n`, {
    responses: 3,
  });
  assert.deepEqual(
    ex.responses.map((r) => r.status),
    [500, 500, 200],
  );
  assert.equal(ex.responses[0]!.get('x-before-throw'), undefined, "the failed handler's headers are dropped");
  assert.equal(errors.length, before + 2);
  // Failing after the head was sent: the response is cut by closing the connection.
  const cut = await exchange(port, `GET /throw-after-head HTTP/1.1\r\n${H}\r\n`);
  assert.equal(cut.closed, true);
  assert.equal((await request1(port, `GET /hello HTTP/1.1\r\n${H}\r\n`)).status, 200);
});

test('Expect: 100-continue: 100 sent when the handler reads the body; not sent when it answers first', async () => {
  const s = await openSocket(port);
  try {
    s.sock.write(`POST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    await s.until((b) => b.includes('HTTP/1.1 100 Continue\r\n\r\n'));
    s.sock.write('hello');
    await s.until((b) => parseResponses(b).responses.some((r) => r.status === 200));
    const final = parseResponses(s.received()).responses.find((r) => r.status === 200)!;
    assert.equal(final.body.toString(), 'hello');
  } finally {
    s.sock.destroy();
  }
  // The handler answers without reading: no 100, and the connection closes, as the response says (the body may never come).
  const ex = await exchange(port, `POST /ignore-body HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
  assert.equal(ex.raw.includes('100 Continue'), false);
  assert.equal(ex.responses[0]!.status, 200);
  assert.equal(ex.responses[0]!.get('connection'), 'close');
  assert.equal(ex.closed, true);
});

test('a body the handler ignores is read and discarded; the connection stays usable', async () => {
  const ex = await exchange(port, `POST /ignore-body HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\n0123456789GET /hello HTTP/1.1\r\n${H}\r\n`, {
    responses: 2,
  });
  assert.deepEqual(
    ex.responses.map((r) => r.body.toString()),
    ['ignored', 'hello'],
  );
});

test('chunked request bodies with extensions and trailers reach the handler', async () => {
  const r = await request1(
    port,
    `POST /info HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n`,
  );
  const j = JSON.parse(r.body.toString());
  assert.equal(j.bodyLength, 5);
  assert.deepEqual(j.trailers, { 'x-checksum': '42' });
});

test('the request body as a stream: chunks arrive as they are sent', async () => {
  const s = await openSocket(port);
  try {
    s.sock.write(`POST /stream-body HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`);
    for (let i = 0; i < 3; i++) {
      s.sock.write('4\r\nabcd\r\n');
      await new Promise((r) => setTimeout(r, 20));
    }
    s.sock.write('0\r\n\r\n');
    await s.until((b) => parseResponses(b).responses.length === 1);
    const j = JSON.parse(parseResponses(s.received()).responses[0]!.body.toString());
    assert.equal(j.total, 12);
    assert.ok(j.chunks >= 2, `expected the body in several chunks, got ${j.chunks}`);
  } finally {
    s.sock.destroy();
  }
});

test('a half-closed client still gets its responses (pitfall 4)', async () => {
  const ex = await exchange(port, `GET /async?id=1 HTTP/1.1\r\n${H}\r\nGET /hello HTTP/1.1\r\n${H}\r\n`, { end: true });
  assert.deepEqual(
    ex.responses.map((r) => r.body.toString()),
    ['async 1', 'hello'],
  );
  assert.equal(ex.closed, true);
});

test('requests split into single bytes are parsed the same', async () => {
  const raw = `POST /echo HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc`;
  const s = await openSocket(port);
  try {
    for (const ch of raw) {
      s.sock.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await s.until((b) => parseResponses(b).responses.length === 1);
    assert.equal(parseResponses(s.received()).responses[0]!.body.toString(), 'abc');
  } finally {
    s.sock.destroy();
  }
});

test('the server counts requests in its per-loop stats', async () => {
  const before = server.stats()[0]!.requests;
  await request1(port, `GET /hello HTTP/1.1\r\n${H}\r\n`);
  assert.ok(server.stats()[0]!.requests >= before + 1);
});

test('consecutive responses with different heads never reuse each other (head cache)', async () => {
  const raw =
    `GET /hello HTTP/1.1\r\n${H}\r\n` +
    `GET /hello HTTP/1.1\r\n${H}\r\n` +
    `HEAD /hello HTTP/1.1\r\n${H}\r\n` +
    `GET /status/204 HTTP/1.1\r\n${H}\r\n` +
    `GET /headers HTTP/1.1\r\n${H}\r\n` +
    'GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
    `POST /echo HTTP/1.1\r\n${H}Content-Type: a/b\r\nContent-Length: 2\r\n\r\nxy` +
    `POST /echo HTTP/1.1\r\n${H}Content-Type: c/d\r\nContent-Length: 3\r\n\r\nxyz` +
    `GET /hello HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
  const ex = await exchange(port, raw, { head: [false, false, true] });
  const r = ex.responses;
  assert.equal(r.length, 9);
  assert.deepEqual(
    r.map((x) => [x.status, x.get('content-type') ?? null, x.get('content-length') ?? null, x.get('connection') ?? null, x.body.toString()]),
    [
      [200, 'text/plain', '5', null, 'hello'],
      [200, 'text/plain', '5', null, 'hello'],
      [200, 'text/plain', '5', null, ''],
      [204, null, null, null, ''],
      [200, null, '2', null, 'ok'],
      [200, 'text/plain', '5', 'keep-alive', 'hello'],
      [200, 'a/b', '2', null, 'xy'],
      [200, 'c/d', '3', null, 'xyz'],
      [200, 'text/plain', '5', 'close', 'hello'],
    ],
  );
  assert.equal(ex.closed, true);
});
