/**
 * Property-based tests of the request parser (fast-check): generated valid
 * requests round-trip, any split of the bytes gives the same outcome, and
 * random or mutated input never throws anything but an HttpError carrying
 * one of the protocol statuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpError } from '../../src/http/parser/errors.js';
import { parsePieces, split, type ParseOutcome } from './parse-helper.js';

const STATUSES = new Set([400, 413, 414, 417, 431, 501, 505]);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...tchars), minLength: 1, maxLength: 12 });
const pathChars = 'abcdefghijklmnopqrstuvwxyz0123456789-._~!$&\'()*+,;=:@%/';
/** Whether a ".." (also spelled %2e) would climb above the root: such a path is a 400 (see docs/http-api.md, Paths). */
function climbsAboveRoot(p: string): boolean {
  let depth = 0;
  for (const seg of p.slice(1).split('/')) {
    const s = seg.toLowerCase().replaceAll('%2e', '.');
    if (s === '..') {
      if (depth === 0) return true;
      depth--;
    } else if (s !== '.') depth++;
  }
  return false;
}
const path = fc
  .string({ unit: fc.constantFrom(...pathChars), maxLength: 40 })
  .map((p) => `/${p}`)
  .filter((p) => !climbsAboveRoot(p));
const query = fc.option(fc.string({ unit: fc.constantFrom(...pathChars, '?'), maxLength: 20 }), { nil: undefined });
const valueChar = fc.oneof(
  fc.integer({ min: 0x21, max: 0x7e }),
  fc.constant(0x20),
  fc.constant(0x09),
  fc.integer({ min: 0x80, max: 0xff }),
);
// Field values: no leading/trailing whitespace (the parser trims OWS).
const fieldValue = fc
  .array(valueChar, { maxLength: 30 })
  .map((cs) => String.fromCharCode(...cs).replace(/^[ \t]+|[ \t]+$/g, ''));
const reserved = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect']);
const header = fc.tuple(token, fieldValue).filter(([n]) => !reserved.has(n.toLowerCase()));

interface Model {
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array;
  chunked: boolean;
  chunkSizes: number[];
}

const model: fc.Arbitrary<Model> = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), token),
    path,
    query,
    headers: fc.array(header, { maxLength: 8 }),
    body: fc.uint8Array({ maxLength: 300 }),
    chunked: fc.boolean(),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 }),
  })
  .map((r) => ({
    method: r.method,
    target: r.query === undefined ? r.path : `${r.path}?${r.query}`,
    headers: r.headers,
    body: r.body,
    chunked: r.chunked,
    chunkSizes: r.chunkSizes,
  }));

function serialize(m: Model): Buffer {
  let head = `${m.method} ${m.target} HTTP/1.1\r\nHost: fuzz.example\r\n`;
  for (const [n, v] of m.headers) head += `${n}: ${v}\r\n`;
  const parts: Buffer[] = [];
  if (m.chunked) {
    head += 'Transfer-Encoding: chunked\r\n\r\n';
    parts.push(Buffer.from(head, 'latin1'));
    let off = 0;
    let i = 0;
    while (off < m.body.length) {
      const n = Math.min(m.chunkSizes[i++ % m.chunkSizes.length]!, m.body.length - off);
      parts.push(Buffer.from(`${n.toString(16)}\r\n`), Buffer.from(m.body.subarray(off, off + n)), Buffer.from('\r\n'));
      off += n;
    }
    parts.push(Buffer.from('0\r\n\r\n'));
  } else {
    head += `Content-Length: ${m.body.length}\r\n\r\n`;
    parts.push(Buffer.from(head, 'latin1'), Buffer.from(m.body));
  }
  return Buffer.concat(parts);
}

function summary(r: ParseOutcome): unknown {
  return {
    status: r.error?.status ?? null,
    messages: r.messages.map((m) => [m.head.method, m.head.target, m.head.headers, m.body.toString('hex'), m.complete]),
  };
}

function checkNoCrash(pieces: Uint8Array[]): ParseOutcome {
  let r: ParseOutcome;
  try {
    r = parsePieces(pieces);
  } catch (err) {
    assert.fail(`the parser threw a non-protocol error: ${err instanceof Error ? err.stack : String(err)}`);
  }
  if (r.error) {
    assert.ok(r.error instanceof HttpError);
    assert.ok(STATUSES.has(r.error.status), `unexpected status ${r.error.status}`);
  }
  return r;
}

test('fuzz: generated valid requests round-trip (method, target, headers, body)', () => {
  fc.assert(
    fc.property(model, (m) => {
      const r = checkNoCrash([serialize(m)]);
      assert.equal(r.error, null, r.error?.message);
      assert.equal(r.messages.length, 1);
      const got = r.messages[0]!;
      assert.equal(got.head.method, m.method);
      assert.equal(got.head.target, m.target);
      assert.equal(got.complete, true);
      assert.deepEqual([...got.body], [...m.body]);
      const expected = m.headers.map(([n, v]) => [n.toLowerCase(), v]);
      const seen: [string, string][] = [];
      for (let i = 0; i < got.head.headers.length; i += 2) {
        const n = got.head.headers[i]!;
        if (!reserved.has(n)) seen.push([n, got.head.headers[i + 1]!]);
      }
      assert.deepEqual(seen, expected);
    }),
    { numRuns: RUNS },
  );
});

test('fuzz: any split of a pipelined stream gives the same outcome as the whole', () => {
  fc.assert(
    fc.property(fc.array(model, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), (ms, cuts) => {
      const bytes = Buffer.concat(ms.map(serialize));
      const whole = checkNoCrash([bytes]);
      const pieces = split(bytes, cuts.map((c) => c % (bytes.length + 1)));
      assert.deepEqual(summary(checkNoCrash(pieces)), summary(whole));
      assert.equal(whole.messages.length, ms.length);
    }),
    { numRuns: RUNS },
  );
});

test('fuzz: random bytes never crash the parser', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
      const whole = checkNoCrash([bytes]);
      const parts = checkNoCrash(split(bytes, cuts.map((c) => c % (bytes.length + 1))));
      assert.deepEqual(summary(parts), summary(whole));
    }),
    { numRuns: RUNS * 2 },
  );
});

// Mutations that hit the grammar's sensitive spots: line endings, separators, digits.
const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x2c, 0x22, 0x30, 0x7f, 0xff, 0x41, 0x66];
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), byte: fc.nat({ max: 40 }) }),
);

function mutate(bytes: Buffer, ms: { kind: string; at: number; byte: number }[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'set') b[at] = m.byte;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.of(m.byte), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.byte), b.subarray(at)]);
  }
  return b;
}

test('fuzz: mutated valid requests are accepted or rejected with a protocol status, split or whole alike', () => {
  fc.assert(
    fc.property(model, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 4 }), (m, muts, cuts) => {
      const bytes = mutate(serialize(m), muts);
      const whole = checkNoCrash([bytes]);
      const parts = checkNoCrash(split(bytes, cuts.map((c) => c % (bytes.length + 1))));
      assert.deepEqual(summary(parts), summary(whole));
    }),
    { numRuns: RUNS * 2 },
  );
});
