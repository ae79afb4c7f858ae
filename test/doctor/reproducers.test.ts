/**
 * doctor against small C servers that make the field reports' mistakes on a
 * real kernel (test/fixtures/doctor/epoll_server.c, compiled here with cc).
 * Every server is killed after its test; every loop is bounded.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { runDoctor } from '../../src/doctor/run.js';
import { toJson } from '../../src/doctor/report.js';
import { readTcpTables } from '../../src/doctor/discover.js';
import { buildServer, codes, connect, runCli, sendAndClose, sleep, startProgram, type Running } from './helpers.js';
import { requireTool } from '../helpers.js';

const SECONDS = 1;

async function withServer(t: TestContext, args: string[]): Promise<Running | null> {
  const cc = requireTool(t, 'cc');
  if (!cc) return null;
  const r = await startProgram(await buildServer(cc), args);
  t.after(() => r.stop());
  // Workers fork and reach epoll_wait right after "ready"; give them a moment.
  await sleep(150);
  return r;
}

function sockets(t: { after(fn: () => unknown): void }): net.Socket[] {
  const list: net.Socket[] = [];
  t.after(() => list.forEach((s) => s.destroy()));
  return list;
}

test('fork after epoll_create, level-triggered: SHARED_EPOLL_HERD across processes (kcmp)', async (t) => {
  const s = await withServer(t, ['--layout', 'shared', '--mode', 'lt', '--workers', '3']);
  if (!s) return;
  const r = await runDoctor({ pid: s.pid, seconds: SECONDS });
  const herd = r.findings.find((f) => f.code === 'SHARED_EPOLL_HERD');
  assert.ok(herd, `findings: ${codes(r.findings)}`);
  assert.equal(herd.severity, 'warning');
  assert.equal(r.data.instances.length, 1, 'one instance, told apart by kcmp');
  assert.equal(new Set(r.data.instances[0]!.members.map((m) => m.pid)).size, 4, 'parent and 3 workers hold it');
  assert.ok(r.data.instances[0]!.waiters.length >= 3, 'the 3 workers were seen in epoll_wait on it');
  assert.ok(!r.findings.some((f) => f.code === 'LISTENER_EDGE_TRIGGERED' || f.code === 'LISTENER_ONESHOT'));
  assert.equal(r.data.listeners[0]!.backlog, 128, 'backlog from inet_diag');
});

test('fork after epoll_create, edge-triggered, one accept per wakeup: LISTENER_EDGE_TRIGGERED, the herd, and the seed\'s stuck clients', async (t) => {
  const s = await withServer(t, ['--layout', 'shared', '--mode', 'et', '--et-one', '--workers', '2']);
  if (!s) return;
  // The seed's ab run: a burst of 94 clients, each sending 113 bytes and closing. Arrivals that
  // coalesce into one edge are never announced again; how many depends on timing.
  const socks = sockets(t);
  const { default: netmod } = await import('node:net');
  for (let i = 0; i < 94; i++) {
    const c = netmod.connect({ host: '127.0.0.1', port: s.port }, () => c.end('x'.repeat(113)));
    c.on('error', () => {});
    socks.push(c);
  }
  await sleep(300);
  const r = await runDoctor({ port: s.port, seconds: SECONDS });
  const c = codes(r.findings);
  assert.ok(c.includes('SHARED_EPOLL_HERD:warning'), c.join());
  assert.equal(r.data.target.mode, 'port');
  const cw = r.findings.find((f) => f.code === 'CLOSE_WAIT_UNREAD');
  t.diagnostic(`clients left unaccepted by the ET listener: ${cw ? String(cw.evidence.neverAccepted) : 0} of 94`);
  // Clients stuck in the accept queue through the sample make the ET finding an error.
  assert.ok(c.includes(`LISTENER_EDGE_TRIGGERED:${cw ? 'error' : 'warning'}`), c.join());
  if (cw) {
    // Whatever the count, each stuck one is the seed's picture: never accepted, Recv-Q 114.
    assert.equal(cw.evidence.neverAccepted, cw.evidence.total);
    assert.equal(cw.evidence.unreadBytes, 114 * (cw.evidence.total as number));
  }
});

test('fork after epoll_create, EPOLLONESHOT re-armed: LISTENER_ONESHOT warning, no error', async (t) => {
  const s = await withServer(t, ['--layout', 'shared', '--mode', 'oneshot', '--workers', '2']);
  if (!s) return;
  const socks = sockets(t);
  for (let i = 0; i < 3; i++) socks.push(await connect(s.port));
  const r = await runDoctor({ pid: s.pid, seconds: SECONDS });
  const c = codes(r.findings);
  assert.ok(c.includes('LISTENER_ONESHOT:warning'), c.join());
  assert.ok(c.includes('SHARED_EPOLL_HERD:warning'), c.join());
  assert.ok(!c.some((x) => x.endsWith(':error')), c.join());
});

test('EPOLLONESHOT never re-armed: LISTENER_ONESHOT error, the unaccepted client in CLOSE_WAIT, exit 1', async (t) => {
  const s = await withServer(t, ['--layout', 'threads', '--mode', 'oneshot', '--no-rearm', '--workers', '2']);
  if (!s) return;
  const socks = sockets(t);
  socks.push(await connect(s.port)); // fires the item; the server never re-arms it
  await sleep(100);
  socks.push(await sendAndClose(s.port, 'GET / HTTP/1.0\r\n\r\n')); // sits in the accept queue
  await sleep(100);
  const cli = await runCli(['doctor', '--pid', String(s.pid), '--seconds', String(SECONDS), '--json']);
  assert.equal(cli.code, 1, cli.stderr);
  const j = JSON.parse(cli.stdout) as ReturnType<typeof toJson> & { findings: { code: string; severity: string; evidence: Record<string, unknown> }[] };
  const one = j.findings.find((f) => f.code === 'LISTENER_ONESHOT')!;
  assert.equal(one.severity, 'error');
  assert.equal(one.evidence.armedSamples, 0);
  const cw = j.findings.find((f) => f.code === 'CLOSE_WAIT_UNREAD')!;
  assert.ok(cw, JSON.stringify(j.findings.map((f) => f.code)));
  assert.equal(cw.evidence.neverAccepted, 1);
  assert.equal(cw.evidence.unreadBytes, 19, '18 request bytes + the FIN');
  assert.ok(j.findings.some((f) => f.code === 'SHARED_EPOLL_HERD'), 'two threads wait on one instance');
});

test('threads sharing one epoll instance, level-triggered: SHARED_EPOLL_HERD by threads', async (t) => {
  const s = await withServer(t, ['--layout', 'threads', '--mode', 'lt', '--workers', '3']);
  if (!s) return;
  const r = await runDoctor({ pid: s.pid, seconds: SECONDS });
  const herd = r.findings.find((f) => f.code === 'SHARED_EPOLL_HERD');
  assert.ok(herd, codes(r.findings).join());
  assert.equal((herd.evidence.threadsSeenWaiting as unknown[]).length, 3);
});

test('separate epoll instances with EPOLLEXCLUSIVE: no herd finding, exit 0', async (t) => {
  const s = await withServer(t, ['--layout', 'separate', '--mode', 'lt', '--exclusive', '--workers', '3']);
  if (!s) return;
  const cli = await runCli(['doctor', '--port', String(s.port), '--seconds', String(SECONDS), '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  const j = JSON.parse(cli.stdout) as { target: { processes: unknown[] }; listeners: { epoll: { flags: string }[] }[]; findings: { code: string; severity: string }[] };
  assert.deepEqual(Object.keys(j).sort(), ['findings', 'listeners', 'target']);
  assert.equal(j.listeners[0]!.epoll.length, 3, 'three instances, told apart by kcmp');
  assert.ok(j.listeners[0]!.epoll.every((e) => e.flags.includes('EXCLUSIVE')));
  const c = codes(j.findings);
  assert.ok(!c.some((x) => x.startsWith('SHARED_')), c.join());
  for (const f of j.findings) {
    assert.ok(['error', 'warning', 'info'].includes(f.severity));
    assert.equal(typeof (f as unknown as { message: string }).message, 'string');
  }
});

test('separate epoll instances without EPOLLEXCLUSIVE: SHARED_LISTENER_NO_EXCLUSIVE', async (t) => {
  const s = await withServer(t, ['--layout', 'separate', '--mode', 'lt', '--workers', '2']);
  if (!s) return;
  const r = await runDoctor({ pid: s.pid, seconds: SECONDS });
  const c = codes(r.findings);
  assert.ok(c.includes('SHARED_LISTENER_NO_EXCLUSIVE:warning'), c.join());
  assert.ok(!c.includes('SHARED_EPOLL_HERD:warning'), c.join());
});

test('accepts and never reads nor closes: CLOSE_WAIT_UNREAD with the unread byte count', async (t) => {
  const s = await withServer(t, ['--layout', 'separate', '--mode', 'lt', '--hold', '--workers', '1']);
  if (!s) return;
  const socks = sockets(t);
  const payload = 'x'.repeat(113); // the seed's Recv-Q 114: 113 bytes + FIN
  for (let i = 0; i < 4; i++) socks.push(await sendAndClose(s.port, payload));
  // Bounded wait until the server has accepted all four and their FINs have landed.
  for (let i = 0; i < 60; i++) {
    const held = readTcpTables('self').filter((r) => r.localPort === s.port && r.state === 8 && r.inode !== 0);
    if (held.length === 4 && held.every((r) => r.rxQueue === 114)) break;
    await sleep(50);
  }
  const r = await runDoctor({ pid: s.pid, seconds: SECONDS });
  const cw = r.findings.find((f) => f.code === 'CLOSE_WAIT_UNREAD');
  assert.ok(cw, codes(r.findings).join());
  assert.equal(cw.severity, 'error');
  assert.equal(cw.evidence.total, 4);
  assert.equal(cw.evidence.withUnreadBytes, 4);
  assert.equal(cw.evidence.unreadBytes, 4 * 114);
  assert.equal(cw.evidence.neverAccepted, 0);
});

test('tiny backlog, never accepting, flooded: ACCEPT_QUEUE_OVERFLOW, NEAR_FULL, BACKLOG_TRUNCATED', async (t) => {
  const s = await withServer(t, ['--layout', 'none', '--backlog', '4']);
  if (!s) return;
  const socks = sockets(t);
  // Fill the queue (it holds backlog + 1) with clients that send and close: never accepted.
  for (let i = 0; i < 5; i++) socks.push(await sendAndClose(s.port, 'hello'));
  const flood = (async () => {
    // Bounded: 12 rounds of 4 connects, 80 ms apart, during the sample.
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 4; i++) {
        const { default: netmod } = await import('node:net');
        const c = netmod.connect({ host: '127.0.0.1', port: s.port });
        c.on('error', () => {});
        socks.push(c);
      }
      await sleep(80);
    }
  })();
  const r = await runDoctor({ port: s.port, seconds: SECONDS });
  await flood;
  const c = codes(r.findings);
  assert.ok(c.includes('ACCEPT_QUEUE_OVERFLOW:error'), c.join());
  assert.ok(c.includes('ACCEPT_QUEUE_NEAR_FULL:warning'), c.join());
  assert.ok(c.includes('BACKLOG_TRUNCATED:warning'), c.join());
  const l = r.data.listeners[0]!;
  assert.equal(l.backlog, 4);
  assert.equal(r.data.queues[0]!.max, 5, 'the kernel queues backlog + 1');
  const ov = r.findings.find((f) => f.code === 'ACCEPT_QUEUE_OVERFLOW')!;
  assert.ok((ov.evidence.ListenOverflows as number) > 0);
  // The listener's own drop count, not only the namespace's, is the evidence.
  const own = ov.evidence.listenerDrops as number;
  assert.ok(own > 0, JSON.stringify(ov.evidence));
  assert.equal(ov.evidence.listener, `127.0.0.1:${s.port}`);
  assert.match(ov.message, new RegExp(`127\\.0\\.0\\.1:${s.port} itself dropped ${own} connection attempt`));
  const cw = r.findings.find((f) => f.code === 'CLOSE_WAIT_UNREAD')!;
  assert.equal(cw.evidence.neverAccepted, 5);
  assert.equal(cw.evidence.unreadBytes, 5 * 6);
});

test('CLI: exit 2 with a reason for a missing pid or an unused port; --help', async () => {
  const gone = await runCli(['doctor', '--pid', String(2 ** 22 - 3), '--seconds', '1']);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /no process with pid/);
  const srv = (await import('node:net')).createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const free = await runCli(['doctor', '--port', String(port)]);
  assert.equal(free.code, 2);
  assert.match(free.stderr, /nothing listens on TCP port/);
  const usage = await runCli(['doctor']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /exactly one of --port or --pid/);
  const help = await runCli(['doctor', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /LISTENER_EDGE_TRIGGERED/);
});
