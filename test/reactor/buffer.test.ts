import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer as ElBuffer } from '../../src/reactor/index.js';

test('Buffer appends, peeks and retrieves in order', () => {
  const b = new ElBuffer(4);
  b.append('hello');
  b.append(new Uint8Array([32]));
  b.append('world');
  assert.equal(b.readableBytes, 11);
  assert.equal(globalThis.Buffer.from(b.peek()).toString(), 'hello world');
  assert.deepEqual([...b.retrieveAsBytes(5)], [...globalThis.Buffer.from('hello')]);
  b.retrieve(1);
  assert.equal(b.retrieveAllAsString(), 'world');
  assert.equal(b.readableBytes, 0);
});

test('Buffer compacts before growing and keeps content', () => {
  const b = new ElBuffer(16);
  b.append('0123456789abcdef');
  const cap = b.data.length;
  b.retrieve(10);
  b.append('ghijklmnop'); // fits after compaction
  assert.equal(b.data.length, cap);
  assert.equal(b.retrieveAllAsString(), 'abcdefghijklmnop');
  b.append('x'.repeat(1000));
  assert.ok(b.data.length > cap);
  assert.equal(b.readableBytes, 1000);
});

test('Buffer finds CRLF and supports prepend', () => {
  const b = new ElBuffer();
  b.append('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(b.findCRLF(), 14);
  assert.equal(b.findCRLF(15), 23);
  b.prepend(new Uint8Array([1, 2]));
  assert.equal(b.peek()[0], 1);
  assert.throws(() => b.prepend(new Uint8Array(100)), RangeError);
});

test('Buffer shrinks an empty large backing array', () => {
  const b = new ElBuffer(1024);
  b.append(new Uint8Array(1 << 20));
  b.retrieveAll();
  b.shrinkIfEmpty();
  assert.ok(b.data.length <= 1032);
});
