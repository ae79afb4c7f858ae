/** The checks as pure functions of sampled data: thresholds and severities, without a kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChecks } from '../../src/doctor/checks/index.js';
import { cpuSkew } from '../../src/doctor/checks/cpu.js';
import { parseNetstat } from '../../src/doctor/proc/netstat.js';
import type { TcpRow } from '../../src/doctor/proc/netTcp.js';
import { targetCloseWait } from '../../src/doctor/run.js';
import type { DoctorData, Listener, QueueStats } from '../../src/doctor/types.js';
import { EPOLLET, EPOLLEXCLUSIVE, EPOLLONESHOT } from '../../src/doctor/proc/fdinfo.js';

function listener(over: Partial<Listener> = {}): Listener {
  return { inode: 100, family: 'IPv4', address: '0.0.0.0', port: 8080, uid: 0, backlog: 128, holders: [{ pid: 10, fd: 3, comm: 'srv' }], ...over };
}

function data(over: Partial<DoctorData> = {}): DoctorData {
  return {
    target: { mode: 'pid', pid: 10, pids: [10], netPid: 10, sameNetns: true, unreadable: {} },
    listeners: [listener()],
    registrations: [],
    instances: [],
    kcmpError: null,
    diagError: null,
    waitSamplingError: null,
    queues: [{ inode: 100, samples: 20, first: 0, last: 0, max: 0, atLimit: 0, nearFull: 0 }],
    counters: { start: null, end: null },
    closeWait: { start: [], end: [] },
    fdUsage: [],
    cpu: [],
    sysctl: { somaxconn: 4096, tcpMaxSynBacklog: 2048, syncookies: 1, tcpAbortOnOverflow: 0 },
    seconds: 2,
    samples: 20,
    ...over,
  };
}

const counters = (overflows: number, drops: number, aborts = 0) =>
  parseNetstat(`TcpExt: ListenOverflows ListenDrops TCPAbortOnClose\nTcpExt: ${overflows} ${drops} ${aborts}\n`);

const codesOf = (d: DoctorData) => runChecks(d).map((f) => `${f.code}:${f.severity}`);

test('a quiet, well-configured server: info only', () => {
  assert.deepEqual(codesOf(data()), ['KERNEL_SETTINGS:info']);
});

test('overflow: an error only when a target listener was at its limit', () => {
  const grown = { start: counters(10, 10), end: counters(25, 25) };
  const full = data({ counters: grown, queues: [{ inode: 100, samples: 20, first: 129, last: 129, max: 129, atLimit: 20, nearFull: 20 }] });
  const c = codesOf(full);
  assert.ok(c.includes('ACCEPT_QUEUE_OVERFLOW:error'));
  assert.ok(c.includes('ACCEPT_QUEUE_NEAR_FULL:warning'));
  assert.ok(c.includes('BACKLOG_TRUNCATED:warning'), 'backlog 128 and full: small for the load');
  const elsewhere = codesOf(data({ counters: grown }));
  assert.ok(elsewhere.includes('ACCEPT_QUEUE_OVERFLOW:warning'));
  assert.ok(!elsewhere.some((x) => x.endsWith(':error')));
  assert.ok(!codesOf(data({ counters: { start: counters(5, 5), end: counters(5, 5) } })).some((x) => x.startsWith('ACCEPT_QUEUE_OVERFLOW')));
});

test('overflow with per-listener drops: the listener\'s own count decides, the namespace counters do not', () => {
  const grown = { start: counters(10, 10), end: counters(46, 46) };
  const q = (over: Partial<QueueStats> = {}): QueueStats => ({ inode: 100, samples: 20, first: 0, last: 0, max: 0, atLimit: 0, nearFull: 0, ...over });
  const overflowOf = (d: DoctorData) => runChecks(d).filter((f) => f.code === 'ACCEPT_QUEUE_OVERFLOW');

  // The target dropped 36 itself: an error naming the count, even though no sample caught the queue full.
  const own = overflowOf(data({ counters: grown, queues: [q({ dropsFirst: 4, dropsLast: 40 })] }));
  assert.equal(own.length, 1);
  assert.equal(own[0]!.severity, 'error');
  assert.match(own[0]!.message, /0\.0\.0\.0:8080 itself dropped 36 connection attempts/);
  assert.equal(own[0]!.evidence.listenerDrops, 36);
  assert.equal(own[0]!.evidence.ListenOverflows, 36, 'the namespace counters stay as context');
  // Namespace counters unreadable: the listener's own drops are enough.
  assert.equal(overflowOf(data({ queues: [q({ dropsFirst: 0, dropsLast: 1 })] }))[0]?.severity, 'error');
  // The u32 wraps: 2^32 - 5 -> 3 is 8 drops.
  assert.equal(overflowOf(data({ queues: [q({ dropsFirst: 2 ** 32 - 5, dropsLast: 3 })] }))[0]?.evidence.listenerDrops, 8);

  // Another listener overflowed: the namespace grew, the target dropped nothing. No finding at all,
  // even with the target's queue seen at its limit; KERNEL_SETTINGS carries the counters.
  for (const quiet of [q({ dropsFirst: 7, dropsLast: 7 }), q({ dropsFirst: 7, dropsLast: 7, first: 129, last: 129, max: 129, atLimit: 20, nearFull: 20 })]) {
    const d = data({ counters: grown, queues: [quiet] });
    assert.deepEqual(overflowOf(d), []);
    const ks = runChecks(d).find((f) => f.code === 'KERNEL_SETTINGS')!;
    assert.deepEqual((ks.evidence.otherListenersOverflowed as Record<string, unknown>).ListenOverflows, 36);
  }
  assert.equal(runChecks(data({ queues: [q({ dropsFirst: 7, dropsLast: 7 })] })).find((f) => f.code === 'KERNEL_SETTINGS')!.evidence.otherListenersOverflowed, undefined);

  // Two listeners, one dropping: one finding, for that one.
  const two = data({
    counters: grown,
    listeners: [listener(), listener({ inode: 101, port: 8081 })],
    queues: [q({ dropsFirst: 0, dropsLast: 0 }), q({ inode: 101, dropsFirst: 0, dropsLast: 5 })],
  });
  assert.deepEqual(overflowOf(two).map((f) => [f.severity, f.evidence.listener, f.evidence.listenerDrops]), [['error', '0.0.0.0:8081', 5]]);
});

test('overflow without per-listener drops: the namespace rule, unchanged', () => {
  const grown = { start: counters(10, 10), end: counters(25, 25) };
  const full = { inode: 100, samples: 20, first: 129, last: 129, max: 129, atLimit: 20, nearFull: 20 };
  // Absent (older addon or kernel) and null (a sample without inet_diag) both mean unknown.
  for (const unknown of [{}, { dropsFirst: null, dropsLast: null }, { dropsFirst: 3 }]) {
    const idle = { inode: 100, samples: 20, first: 0, last: 0, max: 0, atLimit: 0, nearFull: 0, ...unknown };
    assert.deepEqual(codesOf(data({ counters: grown, queues: [idle] })).filter((c) => c.startsWith('ACCEPT_QUEUE_OVERFLOW')), ['ACCEPT_QUEUE_OVERFLOW:warning']);
    const f = runChecks(data({ counters: grown, queues: [{ ...full, ...unknown }] })).find((x) => x.code === 'ACCEPT_QUEUE_OVERFLOW')!;
    assert.equal(f.severity, 'error');
    assert.equal(f.evidence.listenerDrops, null);
    assert.match(f.message, /was at its limit \(backlog 128\) while ListenOverflows grew by 15/);
  }
  // Mixed: a listener that reported no drops, and one whose drops are unknown but was at its limit: the latter, by the old rule.
  const mixed = data({
    counters: grown,
    listeners: [listener(), listener({ inode: 101, port: 8081 })],
    queues: [{ inode: 100, samples: 20, first: 0, last: 0, max: 0, atLimit: 0, nearFull: 0, dropsFirst: 0, dropsLast: 0 }, { ...full, inode: 101 }],
  });
  assert.deepEqual(
    runChecks(mixed).filter((f) => f.code === 'ACCEPT_QUEUE_OVERFLOW').map((f) => [f.severity, f.evidence.listener]),
    [['error', '0.0.0.0:8081']],
  );
});

test('backlog equal to somaxconn: info when idle, warning when the queue filled', () => {
  const l = listener({ backlog: 4096 });
  assert.ok(codesOf(data({ listeners: [l] })).includes('BACKLOG_TRUNCATED:info'));
  const small = data({ listeners: [listener({ backlog: 128 })], sysctl: { somaxconn: 128, tcpMaxSynBacklog: 128, syncookies: 1, tcpAbortOnOverflow: 0 } });
  assert.ok(codesOf(small).includes('BACKLOG_TRUNCATED:info'));
  small.queues = [{ inode: 100, samples: 20, first: 110, last: 110, max: 110, atLimit: 0, nearFull: 3 }];
  assert.ok(codesOf(small).includes('BACKLOG_TRUNCATED:warning'));
});

test('CLOSE_WAIT: error when sockets persist through the sample, info when transient', () => {
  const row = (remotePort: number, rx: number, inode: number): TcpRow => ({
    family: 'IPv4', localAddress: '127.0.0.1', localPort: 8080, remoteAddress: '127.0.0.1', remotePort,
    state: 8, txQueue: 0, rxQueue: rx, uid: 0, inode,
  });
  const stuck = [row(1, 114, 0), row(2, 114, 0), row(3, 0, 555)];
  const d = data({ closeWait: { start: stuck, end: stuck }, counters: { start: counters(0, 0, 1), end: counters(0, 0, 4) } });
  const f = runChecks(d).find((x) => x.code === 'CLOSE_WAIT_UNREAD')!;
  assert.equal(f.severity, 'error');
  assert.equal(f.evidence.withUnreadBytes, 2);
  assert.equal(f.evidence.unreadBytes, 228);
  assert.equal(f.evidence.neverAccepted, 2);
  assert.equal(f.evidence.TCPAbortOnClose, 3);
  assert.ok(codesOf(d).includes('ABORT_ON_CLOSE:info'));
  const transient = data({ closeWait: { start: [], end: [row(9, 1, 777)] } });
  assert.ok(codesOf(transient).includes('CLOSE_WAIT_UNREAD:info'));
});

test('CLOSE_WAIT ownership: held inodes, and inode 0 on a listener port (wildcard and v4-mapped)', () => {
  const mk = (localAddress: string, localPort: number, inode: number, state = 8): TcpRow => ({
    family: 'IPv6', localAddress, localPort, remoteAddress: '::1', remotePort: 5, state, txQueue: 0, rxQueue: 1, uid: 0, inode,
  });
  const rows = [mk('::ffff:127.0.0.1', 8080, 0), mk('127.0.0.1', 9999, 0), mk('::1', 7000, 42), mk('::1', 7000, 43), mk('::1', 8080, 44, 1)];
  const v6 = [listener({ family: 'IPv6', address: '::' })];
  assert.deepEqual(targetCloseWait(rows, new Set([42]), v6).map((r) => r.inode), [0, 42]);
  const v4only = [listener({ address: '127.0.0.1' })];
  assert.deepEqual(targetCloseWait(rows, new Set(), v4only).map((r) => r.localPort), [8080]);
});

test('fd limit: warning above 80%, error from 95%', () => {
  const at = (open: number) => codesOf(data({ fdUsage: [{ pid: 10, comm: 'srv', open, soft: 1000, hard: 4096 }] }));
  assert.ok(!at(800).some((c) => c.startsWith('FD_NEAR_LIMIT')));
  assert.ok(at(801).includes('FD_NEAR_LIMIT:warning'));
  assert.ok(at(950).includes('FD_NEAR_LIMIT:error'));
  assert.ok(!codesOf(data({ fdUsage: [{ pid: 10, comm: 'srv', open: 5, soft: Infinity, hard: Infinity }] })).some((c) => c.startsWith('FD_')));
});

test('CPU skew: the seed\'s 3-4 hot workers of 20 is flagged; even load and tiny load are not', () => {
  const unit = (i: number, ticks: number) => ({ pid: 100 + i, comm: 'w', ticks });
  const seed = Array.from({ length: 20 }, (_, i) => unit(i, i < 4 ? 150 : 5));
  assert.ok(cpuSkew(seed, 2));
  assert.equal(cpuSkew(Array.from({ length: 20 }, (_, i) => unit(i, 40 + (i % 3))), 2), null);
  assert.equal(cpuSkew([unit(0, 3), unit(1, 0), unit(2, 0)], 2), null, 'below 10% of a CPU: noise');
  assert.equal(cpuSkew([unit(0, 300), unit(1, 0)], 2), null, 'two workers: not enough to call it a skew');
  assert.ok(codesOf(data({ cpu: seed })).includes('WORKER_CPU_IMBALANCE:warning'));
});

test('registrations: ET warns, and errors when the accept queue never emptied; ONESHOT errors only when disarmed in every sample', () => {
  const inst = { id: 0, members: [{ pid: 10, fd: 4 }], listenerInodes: [100], waiters: [], grouping: 'kcmp' as const };
  const reg = (events: number, armed: number, disarmed: number) => ({ instance: 0, listenerInode: 100, pid: 10, epfd: 4, events, armedSamples: armed, disarmedSamples: disarmed });
  assert.ok(codesOf(data({ instances: [inst], registrations: [reg(0x19 | EPOLLET, 0, 0)] })).includes('LISTENER_EDGE_TRIGGERED:warning'));
  // The seed's stall: 4 connections in the accept queue at every sample, never fewer.
  const q = (over: object) => ({ inode: 100, samples: 20, first: 4, last: 4, max: 4, min: 4, atLimit: 0, nearFull: 0, ...over });
  const stuck = runChecks(data({ instances: [inst], registrations: [reg(0x19 | EPOLLET, 0, 0)], queues: [q({})] })).find((f) => f.code === 'LISTENER_EDGE_TRIGGERED')!;
  assert.equal(stuck.severity, 'error');
  assert.match(stuck.message, /never emptied/);
  assert.deepEqual(stuck.evidence.acceptQueue, { min: 4, first: 4, last: 4, max: 4, samples: 20 });
  // Drained at some sample, shrinking, or too few samples to tell: still a warning.
  for (const over of [{ min: 0, max: 9 }, { first: 9, last: 4, max: 9 }, { samples: 2 }]) {
    assert.ok(codesOf(data({ instances: [inst], registrations: [reg(0x19 | EPOLLET, 0, 0)], queues: [q(over)] })).includes('LISTENER_EDGE_TRIGGERED:warning'), JSON.stringify(over));
  }
  assert.ok(codesOf(data({ instances: [inst], registrations: [reg(0x19 | EPOLLONESHOT, 15, 5)] })).includes('LISTENER_ONESHOT:warning'));
  assert.ok(codesOf(data({ instances: [inst], registrations: [reg(EPOLLONESHOT, 0, 20)] })).includes('LISTENER_ONESHOT:error'));
});

test('herd: shared instance across processes or threads; several instances need EXCLUSIVE', () => {
  const shared = { id: 0, members: [{ pid: 10, fd: 4 }, { pid: 11, fd: 4 }], listenerInodes: [100], waiters: [], grouping: 'kcmp' as const };
  const reg = (instance: number, events: number, pid: number) => ({ instance, listenerInode: 100, pid, epfd: 4, events, armedSamples: 0, disarmedSamples: 0 });
  assert.ok(codesOf(data({ instances: [shared], registrations: [reg(0, 0x19, 10)] })).includes('SHARED_EPOLL_HERD:warning'));
  const threads = { ...shared, members: [{ pid: 10, fd: 4 }], waiters: [{ pid: 10, tid: 11, how: 'epoll_wait' as const, samples: 3 }, { pid: 10, tid: 12, how: 'epoll_wait' as const, samples: 3 }] };
  assert.ok(codesOf(data({ instances: [threads], registrations: [reg(0, 0x19, 10)] })).includes('SHARED_EPOLL_HERD:warning'));
  const a = { id: 0, members: [{ pid: 10, fd: 4 }], listenerInodes: [100], waiters: [], grouping: 'kcmp' as const };
  const b = { ...a, id: 1, members: [{ pid: 11, fd: 4 }] };
  const plain = codesOf(data({ instances: [a, b], registrations: [reg(0, 0x19, 10), reg(1, 0x19, 11)] }));
  assert.ok(plain.includes('SHARED_LISTENER_NO_EXCLUSIVE:warning'));
  assert.ok(!plain.includes('SHARED_EPOLL_HERD:warning'));
  const excl = codesOf(data({ instances: [a, b], registrations: [reg(0, 0x19 | EPOLLEXCLUSIVE, 10), reg(1, 0x19 | EPOLLEXCLUSIVE, 11)] }));
  assert.ok(!excl.some((c) => c.startsWith('SHARED_')));
});

test('info: reuseport groups and what could not be seen', () => {
  const group = [listener({ inode: 1 }), listener({ inode: 2 })];
  assert.ok(codesOf(data({ listeners: group, queues: [] })).includes('REUSEPORT_GROUP:info'));
  const blind = codesOf(data({ listeners: [], queues: [], kcmpError: 'kcmp(KCMP_FILE) failed: EPERM' }));
  assert.ok(blind.includes('NO_LISTENER:info'));
  assert.ok(blind.includes('LIMITED_VIEW:info'));
});
