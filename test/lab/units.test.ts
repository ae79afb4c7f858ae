/**
 * The lab's pieces that need no load: scenario selection, loads, option
 * parsing, the statistics and the verdict wording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allScenarios, selectScenarios } from '../../src/lab/scenarios.js';
import { loadSpec } from '../../src/lab/loads.js';
import { parseLabArgs } from '../../src/lab/options.js';
import { UsageError } from '../../src/cli/args.js';
import { distribution, type ScenarioResult } from '../../src/lab/result.js';
import { verdict } from '../../src/lab/verdict.js';
import { Counters } from '../../src/lab/naive/counters.js';
import { LAB_DEFAULTS } from '../../src/lab/run.js';

const all = allScenarios({ workers: 4, slpMs: 10, somaxconn: 4096 });
const names = (list: { name: string; load: string }[]) => list.map((s) => `${s.name}/${s.load}`);

test('the catalog: every field report experiment, and edgeloop after each load group', () => {
  assert.deepEqual(names(all), [
    'herd-lt/steady',
    'exclusive/steady',
    'reuseport/steady',
    'edgeloop/steady',
    'et-no-drain/burst',
    'et-drain/burst',
    'edgeloop/burst',
    'backlog-8/storm',
    'backlog-default/storm',
    'edgeloop/storm',
  ]);
  const byName = new Map(all.filter((s) => s.server.kind === 'naive').map((s) => [s.name, s.server.kind === 'naive' ? s.server.config : null]));
  assert.deepEqual(
    { ...byName.get('herd-lt'), workers: 0 },
    { topology: 'shared-epoll', workers: 0, edgeTriggered: false, exclusive: false, accept: 'one', slpMs: 0, backlog: 4096, host: '127.0.0.1' },
  );
  const config = (name: string) => {
    const c = byName.get(name);
    assert.ok(c, name);
    return c;
  };
  assert.equal(config('et-no-drain').edgeTriggered, true);
  assert.equal(config('et-no-drain').accept, 'one');
  assert.equal(config('et-no-drain').slpMs, 10);
  assert.equal(config('et-drain').accept, 'drain');
  assert.equal(config('et-drain').slpMs, 10, 'the fix is compared under the same delay');
  assert.equal(config('exclusive').exclusive, true);
  assert.equal(config('exclusive').topology, 'epoll-per-worker');
  assert.equal(config('reuseport').topology, 'reuseport');
  assert.equal(config('backlog-8').backlog, 8);
  assert.equal(config('backlog-default').backlog, 4096);
});

test('selection: by name, backlog for both rows, edgeloop by load, catalog order kept', () => {
  assert.equal(selectScenarios(all, []).length, all.length);
  assert.deepEqual(names(selectScenarios(all, ['backlog'])), ['backlog-8/storm', 'backlog-default/storm']);
  assert.deepEqual(names(selectScenarios(all, ['edgeloop'])), ['edgeloop/steady', 'edgeloop/burst', 'edgeloop/storm']);
  assert.deepEqual(names(selectScenarios(all, ['edgeloop:burst', 'et-drain', 'herd-lt'])), ['herd-lt/steady', 'et-drain/burst', 'edgeloop/burst']);
  assert.throws(() => selectScenarios(all, ['herd-et']), /unknown scenario 'herd-et'/);
  assert.throws(() => selectScenarios(all, ['edgeloop:forever']), /unknown scenario/);
});

test('loads: short connections, a connect timeout under the SYN retransmit, bounded in time', () => {
  const p = { seconds: 2, burst: 50, storm: 80 };
  const steady = loadSpec('steady', p).args;
  assert.deepEqual(steady.slice(0, 5), ['--close', '-c', '10', '-d', '2000ms']);
  const burst = loadSpec('burst', p).args;
  assert.deepEqual(burst.slice(0, 5), ['--close', '-c', '50', '-n', '100']);
  const storm = loadSpec('storm', p).args;
  assert.deepEqual(storm.slice(0, 5), ['--close', '-c', '80', '-d', '2000ms']);
  for (const a of [steady, burst, storm]) {
    const ct = Number(a[a.indexOf('--connect-timeout') + 1]);
    assert.ok(ct > 0 && ct < 1000, 'a dropped SYN must surface as a connect timeout, not a retransmit');
    assert.ok(a.includes('--timeout'));
  }
});

test('options: defaults, limits, scenario names checked before anything runs', () => {
  const d = parseLabArgs([]);
  assert.equal(d.help, false);
  assert.deepEqual(d.options, LAB_DEFAULTS);
  assert.equal(d.json, false);
  const o = parseLabArgs(['herd-lt', 'backlog', '--workers', '3', '--seconds', '1.5', '--slp', '0', '--json', '--html', '/tmp/x.html', '--no-doctor']);
  assert.deepEqual(o.options.scenarios, ['herd-lt', 'backlog']);
  assert.equal(o.options.workers, 3);
  assert.equal(o.options.seconds, 1.5);
  assert.equal(o.options.slpMs, 0);
  assert.equal(o.options.doctor, false);
  assert.equal(o.json, true);
  assert.equal(o.html, '/tmp/x.html');
  assert.equal(parseLabArgs(['-h']).help, true);
  assert.throws(() => parseLabArgs(['--workers', '0']), UsageError);
  assert.throws(() => parseLabArgs(['--workers', 'ten']), /whole number/);
  assert.throws(() => parseLabArgs(['--seconds', '0.1']), /--seconds must be from 500ms to 10m, got '0.1'/);
  // Number() took these: the strict rule is everyone's.
  assert.throws(() => parseLabArgs(['--seconds', '0x10']), /--seconds expects a duration .*'0x10'/);
  assert.throws(() => parseLabArgs(['--workers', '0x10']), /--workers must be a whole number, got '0x10'/);
  assert.equal(parseLabArgs(['--seconds', '1500ms']).options.seconds, 1.5);
  assert.equal(parseLabArgs(['--seconds', '1.5s']).options.seconds, 1.5);
  assert.equal(parseLabArgs(['--slp', '1s']).options.slpMs, 1000);
  assert.throws(() => parseLabArgs(['nope']), /unknown scenario 'nope'/);
  assert.throws(() => parseLabArgs(['--bogus']), UsageError);
  assert.throws(() => parseLabArgs(['--html', ' ']), /file name/);
});

test('distribution: min, max, population stddev, busiest share', () => {
  assert.deepEqual(distribution([1, 2, 3, 2]), { min: 1, max: 3, mean: 2, stddev: 0.7, busiestShare: 0.375 });
  assert.deepEqual(distribution([]), { min: 0, max: 0, mean: 0, stddev: 0, busiestShare: 0 });
  assert.equal(distribution([0, 0]).busiestShare, 0);
});

test('counters: one slab per worker, a shared stop flag', () => {
  const c = new Counters(2);
  c.add(1, 'accepted');
  c.add(1, 'accepted', 2);
  c.add(0, 'eagain');
  c.set(0, 'tid', 42);
  const other = new Counters(2, c.sab); // what a worker thread maps
  assert.equal(other.stopRequested, false);
  c.requestStop();
  assert.equal(other.stopRequested, true);
  assert.deepEqual(other.snapshot(), [
    { worker: 0, tid: 42, accepted: 0, wakeups: 0, eagain: 1, errors: 0 },
    { worker: 1, tid: 0, accepted: 3, wakeups: 0, eagain: 0, errors: 0 },
  ]);
});

function facts(over: Partial<ScenarioResult>): Omit<ScenarioResult, 'verdict'> {
  const base = {
    name: 'x',
    load: 'burst',
    focus: 'lost',
    server: { kind: 'naive', pid: 1, port: 1, backlog: 8 },
    workers: [{ worker: 0, tid: 1, accepted: 10, wakeups: 12, eagain: 2 }],
    client: { requests: 2000, completed: 127 },
    opened: 2000,
    accepted: 127,
    neverAccepted: 1873,
    leftInQueue: 1873,
    failed: 1873,
    connectTimeouts: 0,
    acceptErrors: 0,
    spuriousWakeups: 2,
    wakeups: 12,
    distribution: distribution([10]),
    queue: { max: 9, full: 3, samples: 10 },
    listenOverflows: 5,
    listenDrops: 5,
    cleanup: { ok: true, detail: '', closedAtStop: 0 },
  };
  return { ...base, ...over } as unknown as Omit<ScenarioResult, 'verdict'>;
}

test('verdicts lead with what the field report is about', () => {
  assert.equal(
    verdict(facts({ name: 'et-no-drain' })),
    'et-no-drain: 1,873 of 2,000 connections never accepted (1,873 still in the accept queue at the end); 1,873 of 2,000 requests failed',
  );
  assert.match(verdict(facts({ name: 'et-drain', neverAccepted: 0, accepted: 2000 })), /^et-drain: all 2,000 connections accepted/);
  assert.match(verdict(facts({ name: 'herd-lt', focus: 'herd' })), /^herd-lt: 2 of 12 wakeups \(16\.7%\) found nothing to accept/);
  assert.match(verdict(facts({ name: 'backlog-8', focus: 'backlog', connectTimeouts: 40 })), /40 connect timeouts \(the field report's errno 110\).*ListenOverflows \+5.*peaked at 9 of backlog 8/);
  assert.match(
    verdict(facts({ name: 'backlog-default', focus: 'backlog', queue: { max: 3, full: 0, samples: 5 }, listenOverflows: 0 })),
    /^backlog-default: no connect timeouts/,
  );
  assert.match(verdict(facts({ name: 'edgeloop', focus: 'reference', load: 'steady' })), /^edgeloop \(steady\): 2 of 12 wakeups/);
  assert.match(verdict(facts({ cleanup: { ok: false, detail: '', closedAtStop: 0 } })), /\[cleanup FAILED\]$/);
});
