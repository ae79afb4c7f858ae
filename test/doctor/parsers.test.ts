/** The /proc parsers, on text captured from Linux 6.x (and trimmed to what older kernels print). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeAddress, formatIPv6, parseNetTcp } from '../../src/doctor/proc/netTcp.js';
import { describeEvents, isDisarmed, isEdgeTriggered, isExclusive, isOneshot, parseEpollItem, parseFdinfo } from '../../src/doctor/proc/fdinfo.js';
import { counterDelta, parseNetstat } from '../../src/doctor/proc/netstat.js';
import { nofile, parseLimits } from '../../src/doctor/proc/limits.js';
import { parseStat } from '../../src/doctor/proc/stat.js';
import { parseStatus } from '../../src/doctor/proc/status.js';
import { parseSyscall, syscallTable, waitTarget } from '../../src/doctor/proc/syscall.js';
import { readNetSysctls } from '../../src/doctor/proc/sysctl.js';
import { classifyLink } from '../../src/doctor/proc/fds.js';

const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:07E8 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 123 1 00000000de74aa72 100 0 0 10 0                       
   1: 0100007F:A411 0100007F:9E06 06 00000000:00000000 03:000015DC 00000000     0        0 0 3 00000000cfa981e9                                      
   2: 600410AC:03FE 5F0410AC:2251 08 00000000:00000072 00:00000000 00000000  1000        0 0 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:D2F0 01 0000000A:00000000 01:00000014 00000000  1000        0 45678
   4: garbage line
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:8DC3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11130 1 000000004a3ff890 100 0 0 10 0
   1: 00000000000000000000000000000000:8551 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11131 1 000000009b0066ff 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:B3A2 08 00000000:00000001 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 28 10 -1
   3: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999
`;

test('netTcp: IPv4 rows, states, queues, inode 0, uid; junk lines skipped', () => {
  const rows = parseNetTcp(TCP4, 'IPv4', true);
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[0], {
    family: 'IPv4', localAddress: '0.0.0.0', localPort: 2024, remoteAddress: '0.0.0.0', remotePort: 0,
    state: 10, txQueue: 0, rxQueue: 5, uid: 0, inode: 123,
  });
  const [, , r2, r3] = rows;
  assert.ok(r2 && r3, 'rows 2 and 3');
  // The seed's case: CLOSE_WAIT with Recv-Q 114 (0x72), never accepted (inode 0).
  assert.equal(r2.localAddress, '172.16.4.96');
  assert.equal(r2.localPort, 1022);
  assert.equal(r2.state, 8);
  assert.equal(r2.rxQueue, 114);
  assert.equal(r2.inode, 0);
  assert.equal(r2.uid, 1000);
  // Missing trailing fields (older kernels print fewer): still parsed.
  assert.equal(r3.inode, 45678);
  assert.equal(r3.txQueue, 10);
});

test('netTcp: IPv6 loopback, wildcard, v4-mapped and a global address', () => {
  const rows = parseNetTcp(TCP6, 'IPv6', true);
  assert.equal(rows.length, 4);
  const [r0, r1, r2, r3] = rows;
  assert.ok(r0 && r1 && r2 && r3, 'four rows');
  assert.equal(r0.localAddress, '::1');
  assert.equal(r0.localPort, 0x8dc3);
  assert.equal(r1.localAddress, '::');
  assert.equal(r2.localAddress, '::ffff:127.0.0.1');
  assert.equal(r2.state, 8);
  assert.equal(r2.rxQueue, 1);
  assert.equal(r3.localAddress, '2001:db8::1');
  assert.equal(r3.family, 'IPv6');
});

test('netTcp: byte order is a parameter; a big-endian kernel prints words as-is', () => {
  assert.equal(decodeAddress('0100007F', true), '127.0.0.1');
  assert.equal(decodeAddress('7F000001', false), '127.0.0.1');
  assert.equal(formatIPv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), '::');
  assert.equal(formatIPv6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 3]), 'fe80::1:2:0:3');
  assert.throws(() => decodeAddress('123'));
});

test('netTcp: an empty table (only the header) gives no rows', () => {
  assert.deepEqual(parseNetTcp(TCP4.split('\n')[0]!, 'IPv4'), []);
});

const FDINFO_EPOLL = `pos:	0
flags:	02000002
mnt_id:	17
ino:	1039
tfd:        3 events:       19 data:                3  pos:0 ino:2abb sdev:9
tfd:        7 events: 80000019 data:     7f3a00001234  pos:0 ino:2ac0 sdev:9
tfd:        9 events: 40000000 data:                9  pos:0 ino:2ac1 sdev:9
tfd:       11 events: 90000019 data:               0b  pos:0 ino:2ac2 sdev:9
tfd:       12 events:       19 data:               0c  pos:0 ino:40f sdev:f
`;

test('fdinfo: epoll items keyed by hex ino, flags decoded', () => {
  const info = parseFdinfo(FDINFO_EPOLL);
  assert.equal(info.pos, 0);
  assert.equal(info.flags, 0o2000002);
  assert.equal(info.mntId, 17);
  assert.equal(info.ino, 1039);
  assert.equal(info.epoll.length, 5);
  const [lt, et, fired, exclEt, nested] = info.epoll;
  assert.ok(lt && et && fired && exclEt && nested, 'five epoll items');
  assert.deepEqual(lt, { tfd: 3, events: 0x19, data: '3', pos: 0, ino: 0x2abb, sdev: 9 });
  assert.ok(!isEdgeTriggered(lt.events) && !isOneshot(lt.events));
  assert.ok(isEdgeTriggered(et.events));
  assert.equal(et.data, '7f3a00001234');
  assert.ok(isOneshot(fired.events) && isDisarmed(fired.events));
  assert.ok(!isDisarmed(lt.events));
  assert.ok(isExclusive(exclEt.events) && isEdgeTriggered(exclEt.events));
  assert.equal(describeEvents(exclEt.events), 'IN|ERR|HUP|EXCLUSIVE|ET');
  // An epoll fd inside an epoll fd targets the shared anon inode (1039 = 0x40f).
  assert.equal(nested.ino, info.ino);
});

test('fdinfo: older kernels without pos/ino/sdev, and a non-epoll fd', () => {
  const item = parseEpollItem('tfd:        5 events:       19 data:                5');
  assert.deepEqual(item, { tfd: 5, events: 0x19, data: '5' });
  const plain = parseFdinfo('pos:\t0\nflags:\t02\nmnt_id:\t9\n');
  assert.deepEqual(plain, { pos: 0, flags: 2, mntId: 9, epoll: [] });
  assert.equal(parseEpollItem('tfd: x'), null);
});

const NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPAbortOnClose
TcpExt: 0 0 2436905 2436905 14
IpExt: InNoRoutes InOctets
IpExt: 0 141352800
`;

test('netstat: header/value pairs per section; missing counters give null deltas', () => {
  const a = parseNetstat(NETSTAT);
  assert.equal(a.TcpExt!.ListenOverflows, 2436905);
  assert.equal(a.IpExt!.InOctets, 141352800);
  const b = parseNetstat(NETSTAT.replace('0 0 2436905 2436905 14', '0 0 2436927 2436930 20'));
  assert.equal(counterDelta(a, b, 'TcpExt', 'ListenOverflows'), 22);
  assert.equal(counterDelta(a, b, 'TcpExt', 'ListenDrops'), 25);
  assert.equal(counterDelta(a, b, 'TcpExt', 'TCPAbortOnClose'), 6);
  assert.equal(counterDelta(a, b, 'TcpExt', 'NoSuchCounter'), null);
  // An older kernel without TCPAbortOnClose: shorter lines, still aligned.
  const old = parseNetstat('TcpExt: ListenOverflows ListenDrops\nTcpExt: 1 2\n');
  assert.deepEqual(old, { TcpExt: { ListenOverflows: 1, ListenDrops: 2 } });
  assert.deepEqual(parseNetstat(''), {});
});

test('limits: Max open files, unlimited as Infinity', () => {
  const text = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            1024                 524288               files     
Max nice priority         0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`;
  const l = parseLimits(text);
  assert.deepEqual(nofile(l), { soft: 1024, hard: 524288, units: 'files' });
  assert.equal(l['Max cpu time']!.soft, Infinity);
  assert.equal(l['Max nice priority']!.units, '');
  assert.equal(nofile(parseLimits('')), null);
});

test('stat: comm with spaces and parentheses; utime, stime, ppid, threads', () => {
  const text = '4242 (my (weird) srv) S 4000 4242 4000 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 7 0 123456 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
  const s = parseStat(text)!;
  assert.equal(s.pid, 4242);
  assert.equal(s.comm, 'my (weird) srv');
  assert.equal(s.state, 'S');
  assert.equal(s.ppid, 4000);
  assert.equal(s.utime, 250);
  assert.equal(s.stime, 75);
  assert.equal(s.numThreads, 7);
  assert.equal(s.starttime, 123456);
  assert.equal(parseStat('garbage'), null);
  assert.equal(parseStat('1 (x) S 0'), null);
});

test('status: Tgid, PPid, real Uid', () => {
  const s = parseStatus('Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\nPid:\t813\nPPid:\t1\nUid:\t33\t33\t33\t33\n');
  assert.deepEqual(s, { name: 'nginx', tgid: 812, ppid: 1, uid: 33 });
});

test('syscall: running, user space, and epoll_wait/accept waits by architecture', () => {
  assert.deepEqual(parseSyscall('running\n'), { kind: 'running' });
  assert.deepEqual(parseSyscall('-1 0x7ffd2f5bba48 0x7f894ab25bd3\n'), { kind: 'user' });
  assert.equal(parseSyscall(''), null);
  const x64 = syscallTable('x64');
  const ep = parseSyscall('232 0x4 0x7ffd2f5bb960 0x10 0xffffffff 0x0 0x7f894aa4f740 0x7ffd2f5bb948 0x7f894ab5aef3\n');
  assert.deepEqual(waitTarget(ep, x64), { how: 'epoll_wait', fd: 4 });
  const acc = parseSyscall('288 0x3 0x0 0x0 0x80800 0x0 0x0 0x7ffd 0x7f89\n');
  assert.deepEqual(waitTarget(acc, x64), { how: 'accept', fd: 3 });
  assert.equal(waitTarget(parseSyscall('61 0xffffffff 0x0 0x0 0x0 0x0 0x64 0x7ffd 0x7f89'), x64), null);
  // arm64 numbers epoll_pwait 22.
  assert.deepEqual(waitTarget(parseSyscall('22 0x5 0x0 0x0 0x0 0x0 0x0 0x0 0x0'), syscallTable('arm64')), { how: 'epoll_wait', fd: 5 });
  assert.equal(syscallTable('mips'), null);
});

test('fd links: sockets and epoll instances', () => {
  assert.deepEqual(classifyLink(3, 'socket:[10939]'), { fd: 3, link: 'socket:[10939]', epoll: false, socketInode: 10939 });
  assert.equal(classifyLink(4, 'anon_inode:[eventpoll]').epoll, true);
  assert.equal(classifyLink(5, 'pipe:[1]').socketInode, undefined);
});

test('sysctl: read from a root dir; missing files are null', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-sysctl-'));
  try {
    fs.mkdirSync(path.join(root, 'net/core'), { recursive: true });
    fs.writeFileSync(path.join(root, 'net/core/somaxconn'), '128\n');
    assert.deepEqual(readNetSysctls(root), { somaxconn: 128, tcpMaxSynBacklog: null, syncookies: null, tcpAbortOnOverflow: null });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
