import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedResponse, ResponseParser } from '../../src/bench/parser.js';

type Got = Array<[number, boolean]>;

/** Feeds chunks the way the reactor does: unconsumed bytes are presented again, first. */
function parseChunks(chunks: Uint8Array[], head = false, eof = false): { got: Got; midResponse: boolean } {
  const got: Got = [];
  const p = new ResponseParser((status, keepAlive) => {
    got.push([status, keepAlive]);
    return true;
  }, head);
  let pending: Uint8Array = new Uint8Array(0);
  for (const c of chunks) {
    const all = new Uint8Array(pending.length + c.length);
    all.set(pending);
    all.set(c, pending.length);
    const used = p.execute(all);
    pending = all.slice(used);
  }
  if (eof) p.eof();
  return { got, midResponse: p.midResponse };
}

const enc = (s: string) => new TextEncoder().encode(s);
const parse = (s: string, head = false, eof = false) => parseChunks([enc(s)], head, eof);

test('Content-Length responses, back to back (pipelined)', () => {
  const r = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
  const { got, midResponse } = parse(r + r + 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
  assert.deepEqual(got, [
    [200, true],
    [200, true],
    [503, true],
  ]);
  assert.equal(midResponse, false);
});

test('chunked body with extensions and trailers', () => {
  const r =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' +
    '5;ext=1\r\nhello\r\n0a\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n';
  assert.deepEqual(parse(r + r).got, [
    [200, true],
    [200, true],
  ]);
});

test('Connection: close and HTTP/1.0 keep-alive rules', () => {
  assert.deepEqual(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').got, [[200, false]]);
  assert.deepEqual(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').got, [[200, false]]);
  assert.deepEqual(parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').got, [[200, true]]);
});

test('a body delimited by the close completes on EOF; a short Content-Length body does not', () => {
  const noLength = parse('HTTP/1.1 200 OK\r\n\r\nsome bytes', false, false);
  assert.deepEqual(noLength.got, []);
  assert.equal(noLength.midResponse, true);
  assert.deepEqual(parse('HTTP/1.1 200 OK\r\n\r\nsome bytes', false, true).got, [[200, false]]);
  const short = parse('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', false, true);
  assert.deepEqual(short.got, []);
  assert.equal(short.midResponse, true);
});

test('HEAD, 204 and 304 have no body whatever the headers say; 1xx is skipped', () => {
  assert.deepEqual(parse('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', true).got, [[200, true]]);
  assert.deepEqual(parse('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n').got, [[204, true]]);
  assert.deepEqual(parse('HTTP/1.1 304 Not Modified\r\n\r\n').got, [[304, true]]);
  assert.deepEqual(parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok').got, [
    [201, true],
  ]);
});

test('bare LF line endings and a status line without a reason are accepted', () => {
  assert.deepEqual(parse('HTTP/1.1 200\nContent-Length: 2\n\nokHTTP/1.1 404\r\nContent-Length: 0\r\n\r\n').got, [
    [200, true],
    [404, true],
  ]);
});

test('partial head reports midResponse and waits', () => {
  const r = parse('HTTP/1.1 200 OK\r\nContent-Le');
  assert.deepEqual(r.got, []);
  assert.equal(r.midResponse, true);
});

test('malformed responses throw MalformedResponse', () => {
  const bad = [
    'SSH-2.0-OpenSSH_9.0\r\n\r\n',
    'HTTP/1.1 2x0 OK\r\n\r\n',
    'HTTP/2 200\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
  ];
  for (const b of bad) assert.throws(() => parse(b), MalformedResponse, b);
  assert.throws(() => parse('HTTP/1.1 200 OK\r\n' + 'X: y\r\n'.repeat(20000)), MalformedResponse);
});

test('returning false from the callback stops parsing there', () => {
  const r = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const seen: number[] = [];
  const p = new ResponseParser((s) => {
    seen.push(s);
    return false;
  });
  const used = p.execute(enc(r + r));
  assert.equal(used, r.length);
  assert.deepEqual(seen, [200]);
});

test('property: any split of a response stream parses the same', () => {
  const responses = [
    'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\nhello world',
    'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n',
    'HTTP/1.1 404 Not Found\ncontent-length: 3\n\nnop',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx',
  ];
  const expected: Got = [
    [200, true],
    [503, true],
    [200, true],
    [404, true],
    [200, true],
  ];
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: responses.length - 1 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 60 }),
      (picks, cuts) => {
        const stream = enc(picks.map((i) => responses[i]).join(''));
        const chunks: Uint8Array[] = [];
        let at = 0;
        let k = 0;
        while (at < stream.length) {
          const len = cuts[k++ % cuts.length]!;
          chunks.push(stream.subarray(at, at + len));
          at += len;
        }
        const { got, midResponse } = parseChunks(chunks);
        assert.deepEqual(
          got,
          picks.map((i) => expected[i]),
        );
        assert.equal(midResponse, false);
      },
    ),
    { numRuns: 300 },
  );
});
