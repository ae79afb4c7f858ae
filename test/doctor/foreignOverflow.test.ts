/**
 * ListenOverflows/ListenDrops count every listener in the network namespace.
 * A healthy target must not be blamed while another listener (here one in
 * this test process, outside the target) overflows: doctor goes by the
 * target listener's own drop count. Real sockets on 127.0.0.1, bounded load,
 * every process and socket closed after the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runDoctor } from '../../src/doctor/run.js';
import { runChecks } from '../../src/doctor/checks/index.js';
import { listenerDrops } from '../../src/doctor/checks/acceptQueue.js';
import { counterDelta } from '../../src/doctor/proc/netstat.js';
import { native } from '../../src/native/binding.js';
import { codes, diagListener, neverAcceptingListener, sleep, startProgram } from './helpers.js';

const AF_INET = 2;
const LISTEN = 1 << 10;

// Accepts and closes every connection; exits on its own if the test process dies without killing it.
const HEALTHY = `
const net = require('node:net');
const parent = process.ppid;
const s = net.createServer((c) => { c.on('error', () => {}); c.end(); });
s.listen({ host: '127.0.0.1', port: 0 }, () => { console.log('port ' + s.address().port); console.log('ready'); });
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500);
`;

function foreignDrops(port: number): number | null {
  return diagListener(port)?.drops ?? null;
}

test('another listener overflowing in the namespace: no ACCEPT_QUEUE_OVERFLOW for a healthy target', async (t) => {
  const target = await startProgram(process.execPath, ['-e', HEALTHY]);
  t.after(() => target.stop());

  // The other listener: backlog 0 and never accepted from, so all but its first connection are dropped.
  const foreignPort = neverAcceptingListener(t);
  const before = foreignDrops(foreignPort);
  if (before === null) return t.skip('this kernel reports no per-listener drops (INET_DIAG_SKMEMINFO)');

  const clients: net.Socket[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  const open = (port: number) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  const flood = (async () => {
    // Bounded: 12 rounds, 80 ms apart, of 4 connects to the full listener and one served by the target.
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 4; i++) open(foreignPort);
      open(target.port).resume();
      await sleep(80);
    }
  })();
  const r = await runDoctor({ pid: target.pid, seconds: 1 });
  await flood;

  assert.deepEqual(r.data.target.pids, [target.pid], 'the test process, holding the full listener, is not the target');
  assert.equal(r.data.listeners.length, 1);
  assert.equal(r.data.listeners[0]!.port, target.port);
  assert.equal(listenerDrops(r.data.queues[0]), 0, 'the target dropped nothing, and the kernel said so');
  assert.ok((foreignDrops(foreignPort) ?? 0) > before, 'the other listener did drop');
  const { start, end } = r.data.counters;
  assert.ok(start && end);
  const grew = (counterDelta(start, end, 'TcpExt', 'ListenOverflows') ?? 0) + (counterDelta(start, end, 'TcpExt', 'ListenDrops') ?? 0);
  assert.ok(grew > 0, 'the namespace-wide counters grew during the sample');

  const c = codes(r.findings);
  assert.ok(!c.some((x) => x.startsWith('ACCEPT_QUEUE_OVERFLOW')), c.join());
  assert.ok(!c.some((x) => x.endsWith(':error')), c.join());
  const ks = r.findings.find((f) => f.code === 'KERNEL_SETTINGS')!;
  assert.ok(ks.evidence.otherListenersOverflowed, JSON.stringify(ks.evidence));

  // The same sample without the per-listener count is what older kernels give: the namespace rule's warning.
  const blind = { ...r.data, queues: r.data.queues.map(({ dropsFirst: _f, dropsLast: _l, ...q }) => q) };
  assert.ok(codes(runChecks(blind)).includes('ACCEPT_QUEUE_OVERFLOW:warning'));
});
