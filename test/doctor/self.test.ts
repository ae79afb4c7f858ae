/**
 * doctor on processes the test controls without a C compiler: this very
 * process (an IPv6 listener in libuv's epoll), the epoll grouping logic with a
 * stand-in for kcmp, and the "cannot read" exit for an unprivileged user
 * (run from a copy any user can read, wherever the checkout lives).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDoctor } from '../../src/doctor/run.js';
import { groupInstances, instancesWaitedVia, type EpollFd } from '../../src/doctor/epoll.js';
import type { Kernel } from '../../src/doctor/kernel.js';
import { cliPath, codes } from './helpers.js';

test('doctor on this process: an IPv6 listener, its backlog via inet_diag, libuv\'s level-triggered registration', async (t) => {
  const server = net.createServer((c) => c.destroy());
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host: '::1', port: 0, backlog: 77 }, () => resolve(true));
  });
  if (!ok) return t.skip('no IPv6 loopback (::1) on this machine');
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  // libuv adds a listener to its epoll set at its next poll phase, not in listen(): let it run once.
  await new Promise((r) => setTimeout(r, 50));
  const r = await runDoctor({ port, seconds: 0.3 });
  assert.deepEqual(r.data.target.pids, [process.pid]);
  const l = r.data.listeners[0]!;
  assert.equal(l.family, 'IPv6');
  assert.equal(l.address, '::1');
  assert.equal(l.backlog, 77);
  assert.equal(r.data.registrations.length, 1, 'registered in one epoll instance (libuv\'s)');
  assert.ok(!codes(r.findings).some((c) => c.endsWith(':error') || c.startsWith('LISTENER_')), codes(r.findings).join());
  // fd usage is measured for the target.
  assert.ok(r.data.fdUsage[0]!.open > 0);
});

function epfd(pid: number, fd: number, listeners: number[], nested: number[] = []): EpollFd {
  return {
    pid,
    fd,
    info: { ino: 1039, epoll: [] },
    listenerItems: new Map(listeners.map((ino) => [ino, { tfd: 3, events: 0x19, data: '3', ino }])),
    nested,
  };
}

test('epoll grouping: kcmp-equal fds merge, different listener sets are never compared, nested waits resolve', () => {
  const calls: string[] = [];
  // Stand-in kcmp: pids 10, 11, 12 fd 4 are one description; pid 13 fd 4 another.
  const kernel = {
    native: {
      kcmpFile: (p1: number, p2: number, f1: number, f2: number) => {
        calls.push(`${p1}/${f1}-${p2}/${f2}`);
        const shared = (p: number) => p >= 10 && p <= 12;
        return shared(p1) && shared(p2) ? 0 : 1;
      },
    },
    unavailableReason: null,
  } as unknown as Kernel;
  const fds = [epfd(10, 4, [100]), epfd(11, 4, [100]), epfd(12, 4, [100]), epfd(13, 4, [100]), epfd(14, 4, [200]), epfd(14, 9, [], [4])];
  const g = groupInstances(fds, kernel);
  assert.equal(g.kcmpError, null);
  assert.equal(g.instances.length, 3);
  assert.deepEqual(g.instances[0]!.members.map((m) => m.pid), [10, 11, 12]);
  assert.deepEqual(g.instances[1]!.members.map((m) => m.pid), [13]);
  assert.ok(!calls.some((c) => c.includes('14/')), 'pid 14 holds another listener: never compared');
  assert.equal(g.registrations.length, 3, 'one registration per (instance, listener)');
  // A thread of pid 14 sleeping in epoll_wait(9) waits on instance 2 through the nested fd 4.
  assert.deepEqual(instancesWaitedVia(14, 9, fds, g.byFd), [2]);
  assert.deepEqual(instancesWaitedVia(11, 4, fds, g.byFd), [0]);
  assert.deepEqual(instancesWaitedVia(11, 99, fds, g.byFd), []);
});

test('epoll grouping without kcmp: fds stay apart and the report says why', () => {
  const kernel = { native: { kcmpFile: () => -1 }, unavailableReason: null } as unknown as Kernel;
  const g = groupInstances([epfd(10, 4, [100]), epfd(11, 4, [100])], kernel);
  assert.equal(g.instances.length, 2);
  assert.match(g.kcmpError ?? '', /kcmp\(KCMP_FILE\) failed: EPERM/);
});

/**
 * A copy of the compiled CLI and the addon that any user can run: the checkout
 * itself may sit in a directory only its owner can enter (mktemp -d makes
 * 0700). Made under the first temp root every user can traverse.
 */
function worldRunnableCli(): { cli: string; dir: string } {
  const traversable = (d: string): boolean => {
    for (let p = path.resolve(d); ; p = path.dirname(p)) {
      if ((fs.statSync(p).mode & 0o001) === 0) return false;
      if (p === path.dirname(p)) return true;
    }
  };
  const root = [os.tmpdir(), '/tmp', '/dev/shm'].find((d) => fs.existsSync(d) && traversable(d));
  assert.ok(root, `no temp directory every user can enter (tried ${os.tmpdir()}, /tmp, /dev/shm)`);
  const dir = fs.mkdtempSync(path.join(root, 'edgeloop-cli-'));
  const from = path.resolve(path.dirname(cliPath), '../../..');
  fs.cpSync(path.join(from, 'dist/src'), path.join(dir, 'dist/src'), {
    recursive: true,
    filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.js'),
  });
  fs.cpSync(path.join(from, 'build/Release/edgeloop.node'), path.join(dir, 'build/Release/edgeloop.node'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  (function open(p: string) {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) open(path.join(p, e));
  })(dir);
  return { cli: path.join(dir, 'dist/src/cli/main.js'), dir };
}

test('exit 2 with the reason when another user\'s process cannot be read', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run the CLI as an unprivileged user');
  const { cli, dir } = worldRunnableCli();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, 'doctor', '--pid', String(process.pid), '--seconds', '0.2'], {
      uid: 65534,
      gid: 65534,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: String(e) });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
  assert.notEqual(r.code, null, `could not run the CLI as uid 65534: ${r.stderr}`);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /EACCES|EPERM/);
  assert.match(r.stderr, /owned by uid 0/);
});
