/**
 * The streaming UTF-8 validator against Node's own isUtf8, on random bytes
 * and random valid text, split at random points (fail fast must never
 * reject a valid prefix, and must agree on the whole).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { Utf8Validator } from '../../src/ws/index.js';
import { copyBytes, decodeUtf8 } from '../../src/ws/utf8.js';

function validate(bytes: Uint8Array, cuts: number[]): boolean {
  const v = new Utf8Validator();
  let at = 0;
  for (const c of [...cuts.map((x) => x % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
    if (!v.feed(bytes, at, Math.max(at, c))) return false;
    at = Math.max(at, c);
  }
  return v.complete;
}

test('agrees with isUtf8 on random bytes split anywhere', () => {
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x80, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5));
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 4 }), (arr, cuts) => {
      const b = Uint8Array.from(arr);
      assert.equal(validate(b, cuts), isUtf8(b));
    }),
    { numRuns: 5000 },
  );
});

test('accepts any valid text split anywhere, even inside a code point', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.array(fc.nat(), { maxLength: 5 }), (s, cuts) => {
      assert.equal(validate(Buffer.from(s, 'utf8'), cuts), true);
    }),
    { numRuns: 2000 },
  );
});

test('decodeUtf8 on a range agrees with isUtf8 and toString, short (ASCII scan) and long; copyBytes copies', () => {
  const byte = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xed, 0xf0));
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 300 }), fc.nat(), fc.nat(), (arr, a, b) => {
      const whole = Uint8Array.from(arr);
      const s = Math.min(a, b) % (whole.length + 1);
      const e = s + (Math.max(a, b) % (whole.length - s + 1));
      const part = Buffer.from(whole.subarray(s, e));
      assert.equal(decodeUtf8(whole, s, e), isUtf8(part) ? part.toString('utf8') : null);
      const c = copyBytes(whole, s, e);
      assert.deepEqual(c, part);
      if (e > s) assert.notEqual(c.buffer, whole.buffer);
    }),
    { numRuns: 3000 },
  );
});
