/**
 * Whether the target shares doctor's network namespace decides if inet_diag
 * (backlogs, queue lengths) and the sysctls apply to it. /proc/PID/ns/net can
 * be unreadable even for root (a process with capabilities doctor lacks, such
 * as a sandbox's pid 1); socket inodes are unique system-wide, so the TCP
 * tables then still answer the question.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { netnsOf, readTcpTables } from '../../src/doctor/discover.js';
import type { TcpRow } from '../../src/doctor/proc/netTcp.js';

const row = (inode: number): TcpRow => ({
  family: 'IPv4',
  localAddress: '127.0.0.1',
  localPort: 1000 + inode,
  remoteAddress: '0.0.0.0',
  remotePort: 0,
  state: 10,
  txQueue: 0,
  rxQueue: 0,
  uid: 0,
  inode,
});

test('netns: unreadable ns link falls back to socket inodes shared with our tables', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const unreadable = () => null;
  // Our own tables seen through /proc/<our pid>/net: the same namespace, proven by the inodes.
  assert.deepEqual(netnsOf(process.pid, unreadable), { same: true });
  // Another namespace: its sockets are not in our tables.
  const foreign = netnsOf(4242, unreadable, () => [row(1), row(2)]);
  assert.equal(foreign.same, false);
  assert.equal(foreign.unknown, undefined, 'proven different, not unknown');
  // No socket to compare: unknown, and said so.
  const empty = netnsOf(4242, unreadable, () => []);
  assert.equal(empty.same, false);
  assert.match(empty.unknown ?? '', /could not tell/);
  // A readable link decides alone.
  const ours = readTcpTables('self');
  assert.ok(ours.length > 0);
  assert.deepEqual(netnsOf(process.pid), { same: true });
});
