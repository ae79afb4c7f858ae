import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs, type BenchOptions } from '../../src/bench/options.js';
import { Stats, mergeSnapshots, binOf, binLowerUs } from '../../src/bench/stats.js';
import { buildResult, rpsSeries } from '../../src/bench/result.js';
import { humanReport } from '../../src/bench/report-human.js';
import { htmlReport } from '../../src/bench/report-html.js';
import { progressLine } from '../../src/bench/progress.js';
import { LiveCounters, LiveRow, Live } from '../../src/bench/live.js';

const options = (parseBenchArgs(['http://127.0.0.1:9/', '-c', '4', '-n', '100', '-t', '2']) as { options: BenchOptions })
  .options;

function twoThreads() {
  const start = 1_000_000;
  const a = new Stats(start);
  const b = new Stats(start);
  for (let i = 1; i <= 50; i++) a.response(200, i / 10, start + i * 10); // 0.1 .. 5 ms, over 0.5 s
  for (let i = 0; i < 20; i++) b.response(503, 2, start + 150);
  b.response(200, 40, start + 1200);
  a.fail('connectRefused', start + 5);
  b.fail('reset', start + 6, 3);
  b.connectError('EADDRNOTAVAIL', start + 7);
  b.noteUnanswered({ conn: 77, thread: 1, local: '127.0.0.1:5555', pending: 2, oldestMs: 900 });
  a.requests = 51;
  b.requests = 27;
  b.stopIssuingAbsMs = start + 1300;
  return mergeSnapshots([a.snapshot(), b.snapshot()]);
}

test('snapshots merge across threads and the totals add up', () => {
  const m = twoThreads();
  assert.equal(m.completed, 71);
  assert.equal(m.histogram.totalCount, 71);
  assert.deepEqual(m.status, { '200': 51, '503': 20 });
  assert.equal(m.failures.connectRefused, 1);
  assert.equal(m.failures.reset, 3);
  assert.equal(m.failures.connectError, 1);
  assert.deepEqual(m.connectErrorCodes, { EADDRNOTAVAIL: 1 });
  assert.equal(m.unanswered, 2);
  assert.equal(m.bins.reduce((x, y) => x + y, 0), 71);

  const r = buildResult(options, m, false);
  const failed = Object.values(r.errors).reduce((x, y) => x + y, 0) - r.errors.non2xx - r.errors.unanswered;
  assert.equal(r.requests, r.completed + failed + r.errors.unanswered);
  assert.equal(r.errors.non2xx, 20);
  assert.equal(r.elapsedMs, 1300);
  assert.ok(Math.abs(r.rps - 71 / 1.3) < 0.01);
  assert.ok(r.latencyMs.p50 > 1.5 && r.latencyMs.p50 < 2.1, `p50 ${r.latencyMs.p50}`);
  assert.ok(r.latencyMs.max >= 39.9 && r.latencyMs.max <= 40.1, `max ${r.latencyMs.max}`);
  assert.ok(r.latencyMs.min <= 0.1001);
  assert.equal(r.latencyBins.reduce((x, b) => x + b.count, 0), 71);
  assert.equal(r.timeline.completed.reduce((x, y) => x + y, 0), 71);
  assert.equal(r.timeline.failed.reduce((x, y) => x + y, 0), 5);
  assert.equal(r.unanswered.connections[0]!.conn, 77);

  // The JSON shape the issue promises.
  const j = JSON.parse(JSON.stringify(r));
  for (const k of ['requests', 'completed', 'rps']) assert.equal(typeof j[k], 'number');
  for (const k of ['p50', 'p90', 'p99', 'p999', 'max']) assert.equal(typeof j.latencyMs[k], 'number');
  for (const k of ['connectRefused', 'connectTimeout', 'reset', 'closed', 'timeout', 'malformed']) {
    assert.equal(typeof j.errors[k], 'number');
  }
  assert.equal(j.status['200'], 51);
});

test('latency bins cover every value once', () => {
  for (const us of [0, 1, 2, 3, 100, 1234, 99_999, 3_600_000_000]) {
    const b = binOf(us);
    assert.ok(binLowerUs(b) <= Math.max(us, 0), `${us} below bin ${b}`);
    if (us < 2 ** 32) assert.ok(us < binLowerUs(b + 1), `${us} above bin ${b}`);
  }
});

test('rps series uses 100 ms steps for short runs', () => {
  const r = buildResult(options, twoThreads(), false);
  const s = rpsSeries(r);
  assert.equal(s.stepMs, 100);
  assert.equal(s.rps[0], 90); // slot 0 holds the 9 responses at 10..90 ms: 9 per 100 ms
});

test('human report names every bucket and the unanswered connections', () => {
  const text = humanReport(buildResult(options, twoThreads(), false));
  for (const s of [
    'connect refused',
    'connect timeout',
    'connection reset',
    'closed early',
    'request timeout',
    'malformed response',
    'non-2xx status',
    'unanswered',
    '200: 51',
    '503: 20',
    'EADDRNOTAVAIL 1',
    'conn #77',
    'p99.9',
  ]) {
    assert.ok(text.includes(s), `missing '${s}' in\n${text}`);
  }
  assert.match(text, /78 requests = 71 answered \+ 5 failed \+ 2 unanswered/);
});

test('human report counts in English: 1 connection, 1 thread', () => {
  const one = (parseBenchArgs(['http://127.0.0.1:9/', '-n', '1']) as { options: BenchOptions }).options;
  const st = new Stats(0);
  st.response(200, 1, 5);
  st.requests = 1;
  st.stopIssuingAbsMs = 10;
  const text = humanReport(buildResult(one, mergeSnapshots([st.snapshot()]), false));
  assert.match(text, /^ {2}1 connection, 1 thread, /m);
});

test('HTML report is self-contained with two charts', () => {
  const html = htmlReport(buildResult(options, twoThreads(), false), new Date(0));
  assert.match(html, /^<!doctype html>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.doesNotMatch(html, /<script|<link|src=|url\(/i);
  assert.ok(html.includes('EADDRNOTAVAIL'));
  assert.ok(html.includes('#77'));
});

test('the HTML timeline of a 5 s run ends its axis at 5 s, with a point for each of the 5 seconds', () => {
  const start = 1_000_000;
  const st = new Stats(start);
  for (let ms = 5; ms < 5000; ms += 10) st.response(200, 1, start + ms);
  st.requests = 500;
  st.stopIssuingAbsMs = start + 5000;
  const r = buildResult(options, mergeSnapshots([st.snapshot()]), false);
  assert.equal(r.elapsedMs, 5000);
  const html = htmlReport(r, new Date(0));
  const svg = html.slice(html.lastIndexOf('<svg '));
  const labels = [...svg.matchAll(/<text x="([\d.]+)" y="\d+" text-anchor="middle">([^<]+)<\/text>/g)].map((m) => [Number(m[1]), m[2]] as const);
  const axis = labels.filter(([, l]) => !/time since start/.test(l ?? ''));
  assert.deepEqual(axis.map(([, l]) => l), ['0', '1.00s', '2.00s', '3.00s', '4.00s', '5.00s']);
  const right = 760 - 16;
  assert.equal(axis.at(-1)?.[0], right, 'the 5 s label is at the right end of the axis');
  const dots = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(dots.length, 5);
  assert.ok(dots.every((x) => x > 64 && x < right), `points inside the axis: ${dots.join(', ')}`);
});

test('HTML report with no responses still renders', () => {
  const m = mergeSnapshots([new Stats(0).snapshot()]);
  const html = htmlReport(buildResult(options, m, false));
  assert.match(html, /No responses, so no latency histogram/);
});

test('progress line and live counters', () => {
  const live = new LiveCounters(2);
  new LiveRow(live.sab, 0).add(Live.Completed, 1500);
  new LiveRow(live.sab, 1).add(Live.Completed, 500);
  new LiveRow(live.sab, 1).add(Live.Failed, 3);
  const t = live.total();
  assert.equal(t.completed, 2000);
  assert.equal(t.failed, 3);
  const line = progressLine(2000, 10_000, undefined, t, 1000, 1000);
  assert.match(line, /2\.0s\s+20%\s+2,000 answered\s+1,000 req\/s\s+3 failed/);
});
