/**
 * The naive server on its own, in this process: it answers HTTP, counts per
 * worker, and stop() closes every socket, epoll instance and thread it made,
 * accept-queue leftovers included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { NaiveServer } from '../../src/lab/naive/server.js';
import type { NaiveConfig } from '../../src/lab/naive/config.js';
import { listenersOn, netFdCount } from '../../src/lab/kernel.js';
import { within, sleep } from '../helpers.js';

const base: NaiveConfig = {
  topology: 'shared-epoll',
  workers: 2,
  edgeTriggered: false,
  exclusive: false,
  accept: 'one',
  slpMs: 0,
  backlog: 128,
  host: '127.0.0.1',
};

function get(port: number, close = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.write(`GET /hello HTTP/1.1\r\nHost: x\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
    });
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
      if (!close && data.endsWith('hello')) s.end();
    });
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
}

for (const topology of ['shared-epoll', 'epoll-per-worker', 'reuseport'] as const) {
  test(`${topology}: answers, counts the accepts, closes everything on stop`, async () => {
    const before = netFdCount();
    const s = await NaiveServer.start({ ...base, topology, exclusive: topology === 'epoll-per-worker' });
    assert.equal(listenersOn(s.port).length, topology === 'reuseport' ? 2 : 1);
    const replies = await within(5000, Promise.all([get(s.port), get(s.port), get(s.port, false)]), 'requests');
    for (const r of replies) assert.match(r, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello$/);
    assert.match(replies[0]!, /Connection: close/i);
    const report = await s.stop();
    assert.equal(report.workers.reduce((n, w) => n + w.accepted, 0), 3);
    assert.ok(report.workers.every((w) => w.tid > 0));
    assert.equal(report.responses, 3);
    assert.equal(report.leftInQueue, 0);
    assert.ok(report.cleanup.ok, JSON.stringify(report.cleanup));
    assert.equal(listenersOn(s.port).length, 0);
    assert.deepEqual(netFdCount(), before);
  });
}

test('stop accepts and closes what waits in the queue, and counts it as never accepted', async () => {
  const before = netFdCount();
  // Edge-triggered, one accept per wakeup, a long slp: the first burst collapses into one event.
  const s = await NaiveServer.start({ ...base, workers: 1, edgeTriggered: true, slpMs: 200 });
  const clients: net.Socket[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      clients.push(net.connect({ port: s.port, host: '127.0.0.1' }));
    }
    await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
    // Each accept comes a slp (200 ms) after its wakeup, and the burst may have made two edges:
    // wait until the queue has held still for three slps (bounded: 5 s) before reading it.
    let queued = listenersOn(s.port)[0]!.queued;
    for (let still = 0, waited = 0; still < 600 && waited < 5000; waited += 100) {
      await sleep(100);
      const now = listenersOn(s.port)[0]!.queued;
      still = now === queued ? still + 100 : 0;
      queued = now;
    }
    assert.ok(queued >= 3, `queue holds the burst minus the one accept: ${queued}`);
    const report = await s.stop();
    assert.equal(report.leftInQueue, queued);
    assert.ok(report.cleanup.closedAtStop >= queued);
    // The clients are this process's sockets too, so only the server's own are checked here.
    assert.equal(report.cleanup.socketsLeft, 0);
    assert.equal(report.cleanup.fdsAfter.epolls, report.cleanup.fdsBefore.epolls);
    assert.equal(report.cleanup.threadsAfter, report.cleanup.threadsBefore);
  } finally {
    clients.forEach((c) => c.destroy());
  }
  await sleep(50);
  assert.deepEqual(netFdCount(), before);
});
