/**
 * The one formatting module: counts read as English, numbers, HTML escaping,
 * and durations and sizes written the way their flags take them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durationArg, esc, formatBytes, formatMs, int, pct, plural, sizeArg } from '../../src/cli/format.js';

test('plural: one loop, two loops, 1,000 connections, irregular nouns', () => {
  assert.equal(plural(1, 'loop'), '1 loop');
  assert.equal(plural(2, 'loop'), '2 loops');
  assert.equal(plural(0, 'request'), '0 requests');
  assert.equal(plural(1000, 'connection'), '1,000 connections');
  assert.equal(plural(1, 'process', 'processes'), '1 process');
  assert.equal(plural(3, 'process', 'processes'), '3 processes');
});

test('numbers, percentages, bytes and milliseconds', () => {
  assert.equal(int(1234567.4), '1,234,567');
  assert.equal(pct(1, 3), '33.3%');
  assert.equal(pct(1, 10_000), '0.01%');
  assert.equal(pct(0, 5), '0%');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatMs(0.25), '250us');
  assert.equal(formatMs(2500), '2.50s');
});

test('durations and sizes as their flags take them', () => {
  assert.deepEqual([0, 500, 5000, 60_000, 90_000, 3_600_000].map(durationArg), ['0ms', '500ms', '5s', '1m', '90s', '1h']);
  assert.deepEqual([100, 1024, 16384, 16 * 1024 ** 2, 1536, 1024 ** 3].map(sizeArg), ['100', '1k', '16k', '16m', '1536', '1g']);
});

test('esc makes text safe in HTML elements and attributes', () => {
  assert.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
