/**
 * Property-based fuzz of the whole server over real sockets: random bytes and
 * mutated valid requests (pipelined, split across writes). The server never
 * crashes, every byte it sends parses as complete, well-formed responses
 * (or it just closes), and it keeps serving afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serve, type Handler, type HttpServer } from '../../src/http/index.js';
import { exchange, parseResponses, request1 } from './wire.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const STATUSES = new Set([200, 400, 404, 408, 413, 414, 417, 431, 500, 501, 505]);

let server: HttpServer;
const handlerErrors: unknown[] = [];

const app: Handler = async (req, res) => {
  if (req.path === '/echo') {
    res.end(await req.bytes());
  } else if (req.path === '/throw') {
    throw new Error('expected');
  } else {
    res.setHeader('X-Path-Length', req.path.length).end(`ok ${req.method}`);
  }
};

before(async () => {
  server = await serve({
    port: 0,
    handler: app,
    onError: (e) => {
      if (!(e instanceof Error && e.message === 'expected')) handlerErrors.push(e);
    },
    limits: { maxBodyBytes: 4096, maxHeaderBytes: 2048, maxRequestLineBytes: 512, maxHeaderCount: 20 },
    headersTimeout: 2000,
    bodyTimeout: 2000,
  });
});
after(async () => {
  await server.stop({ timeout: 2000 });
});

const tokenChars = "!#$%&'*+-.^_`|~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const token = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 10 });
const request = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
    path: fc.constantFrom('/echo', '/x', '/throw', '/a/b?c=d', '*'),
    headers: fc.array(fc.tuple(token, fc.string({ maxLength: 20 })), { maxLength: 5 }),
    body: fc.string({ maxLength: 200 }),
    chunked: fc.boolean(),
  })
  .map((r) => {
    let s = `${r.method} ${r.path} HTTP/1.1\r\nHost: fuzz\r\n`;
    for (const [n, v] of r.headers) s += `${n}: ${v.replace(/[\r\n]/g, '')}\r\n`;
    if (r.chunked) {
      s += 'Transfer-Encoding: chunked\r\n\r\n';
      if (r.body.length) s += `${Buffer.byteLength(r.body).toString(16)}\r\n${r.body}\r\n`;
      s += '0\r\n\r\n';
    } else {
      s += `Content-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;
    }
    return Buffer.from(s);
  });

const mutation = fc.record({ at: fc.nat(), byte: fc.oneof(fc.constantFrom(0, 9, 10, 13, 32, 58, 48, 255), fc.integer({ min: 0, max: 255 })), kind: fc.nat({ max: 2 }) });

function mutate(b: Buffer, ms: { at: number; byte: number; kind: number }[]): Buffer {
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 0) b[at] = m.byte;
    else if (m.kind === 1) b = Buffer.concat([b.subarray(0, at), Buffer.of(m.byte), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
  }
  return b;
}

const input = fc.oneof(
  { weight: 2, arbitrary: fc.array(request, { minLength: 1, maxLength: 4 }).map((rs) => Buffer.concat(rs)) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.array(request, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([rs, ms]) => mutate(Buffer.concat(rs), ms)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)) },
);

test('fuzz over the wire: valid responses or a close, never a crash, the server keeps serving', async () => {
  await fc.assert(
    fc.asyncProperty(input, fc.array(fc.nat(), { maxLength: 3 }), async (bytes, cuts) => {
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const pieces: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        pieces.push(bytes.subarray(prev, p));
        prev = p;
      }
      pieces.push(bytes.subarray(prev));
      const ex = await exchange(server.port, pieces.filter((p) => p.length > 0), { end: true, timeout: 8000 });
      assert.ok(ex.closed, 'the server closes after the client half-closes');
      const parsed = parseResponses(ex.raw, [], true);
      assert.equal(parsed.rest, ex.raw.length, `trailing garbage after the responses: ${JSON.stringify(ex.raw.toString('latin1').slice(parsed.rest, parsed.rest + 80))}`);
      for (const r of parsed.responses) {
        assert.ok(STATUSES.has(r.status), `unexpected status ${r.status}`);
        if (r.status >= 400 && r.status !== 404 && r.status !== 500) assert.equal(r.get('connection'), 'close');
      }
    }),
    { numRuns: RUNS },
  );
  assert.deepEqual(handlerErrors, []);
  assert.equal((await request1(server.port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n')).status, 200);
});
