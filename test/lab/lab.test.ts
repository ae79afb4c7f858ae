/**
 * The proof: a shortened lab (3 workers, 1 s loads) on this kernel, asserting
 * the directions the seeds report, never exact numbers: the kernel decides
 * those. Runs once; each test reads one property of the run.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { runLab, type LabRun } from '../../src/lab/run.js';
import type { ScenarioResult } from '../../src/lab/result.js';
import { netFdCount, threadCount } from '../../src/lab/kernel.js';

let run: LabRun;
let fdsBefore: ReturnType<typeof netFdCount>;
let threadsBefore: number;

before(async () => {
  fdsBefore = netFdCount();
  threadsBefore = threadCount();
  run = await runLab({ workers: 3, seconds: 1, burst: 150, storm: 150 });
});

function row(name: string, load?: string): ScenarioResult {
  const r = run.scenarios.find((s) => s.name === name && (load === undefined || s.load === load));
  assert.ok(r, `${name}${load ? ` (${load})` : ''} ran; errors: ${JSON.stringify(run.errors)}`);
  return r;
}

const show = (r: ScenarioResult) => `${r.verdict} | workers ${JSON.stringify(r.workers)}`;

test('every scenario ran, with doctor, and cleaned up after itself', () => {
  assert.deepEqual(run.errors, []);
  assert.equal(run.scenarios.length, 10);
  for (const r of run.scenarios) {
    assert.ok(r.cleanup.ok, `${r.name}/${r.load}: ${r.cleanup.detail}`);
    assert.equal(r.doctorError, undefined, `${r.name}/${r.load}: doctor: ${r.doctorError}`);
    assert.equal(r.workers.length, 3);
    assert.ok(r.client.requests > 0);
  }
});

test('et-no-drain leaves connections unaccepted; et-drain and edgeloop leave none', () => {
  const lost = row('et-no-drain');
  assert.ok(lost.neverAccepted > 0, show(lost));
  assert.ok(lost.leftInQueue > 0, `still in the accept queue when the load was over: ${show(lost)}`);
  assert.ok(lost.failed > 0, show(lost));
  for (const ok of [row('et-drain'), row('edgeloop', 'burst')]) {
    assert.equal(ok.neverAccepted, 0, show(ok));
    assert.equal(ok.leftInQueue, 0, show(ok));
    assert.equal(ok.accepted, ok.opened, show(ok));
    assert.equal(ok.failed, 0, show(ok));
  }
});

test('herd-lt wakes workers for nothing more often than reuseport and exclusive', () => {
  const herd = row('herd-lt');
  const reuse = row('reuseport');
  const excl = row('exclusive');
  assert.ok(herd.spuriousWakeups > 0, show(herd));
  assert.ok(herd.spuriousWakeups > reuse.spuriousWakeups, `${show(herd)}\n${show(reuse)}`);
  assert.ok(herd.spuriousWakeups > excl.spuriousWakeups, `${show(herd)}\n${show(excl)}`);
  // Every worker of the reuseport server got its own share of the connections.
  assert.ok(reuse.workers.every((w) => w.accepted > 0), show(reuse));
  assert.equal(row('edgeloop', 'steady').spuriousWakeups, 0, show(row('edgeloop', 'steady')));
});

test('a backlog of 8 shows connect timeouts or overflows; the default backlog does not', () => {
  const small = row('backlog-8');
  const dflt = row('backlog-default');
  const edge = row('edgeloop', 'storm');
  assert.equal(small.server.backlog, 8);
  // Per listener: the queue reached its limit. Per client: SYNs dropped, connects timed out.
  assert.ok(small.queue.max >= 8 || small.connectTimeouts > 0, show(small));
  assert.ok(small.connectTimeouts > 0 || small.listenOverflows > 0, show(small));
  for (const r of [dflt, edge]) {
    assert.equal(r.connectTimeouts, 0, show(r));
    // ListenOverflows is netns-wide (other tests may overflow their own queues); this listener's queue is the local proof.
    assert.ok(r.queue.max < r.server.backlog, show(r));
    assert.equal(r.queue.full, 0, show(r));
  }
});

test('doctor sees the mistakes in the naive servers and not in edgeloop', () => {
  assert.ok(row('herd-lt').doctor.includes('SHARED_EPOLL_HERD'), row('herd-lt').doctor.join());
  assert.ok(row('et-no-drain').doctor.includes('LISTENER_EDGE_TRIGGERED'), row('et-no-drain').doctor.join());
  for (const r of run.scenarios.filter((s) => s.name === 'edgeloop' || s.name === 'reuseport')) {
    assert.ok(!r.doctor.includes('SHARED_EPOLL_HERD') && !r.doctor.includes('LISTENER_EDGE_TRIGGERED'), `${r.name}/${r.load}: ${r.doctor.join()}`);
  }
});

test('the lab left no socket, epoll instance, thread or child process behind in this process', () => {
  assert.deepEqual(netFdCount(), fdsBefore);
  assert.ok(threadCount() <= threadsBefore + 1, 'no lab threads in the test process');
  const children = fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
      } catch {
        return false;
      }
    });
  assert.deepEqual(children, []);
});
