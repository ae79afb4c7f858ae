/** The two native exports doctor needs, against a real kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { native } from '../../src/native/binding.js';
import { diagListener, neverAcceptingListener } from './helpers.js';

const AF_INET = 2;
const AF_INET6 = 10;
const LISTEN = 1 << 10;

test('inetDiag reports a listener with its accept queue and backlog', async (t) => {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0, backlog: 37 }, r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const r = native.inetDiag(AF_INET, LISTEN);
  assert.ok(Array.isArray(r), `inetDiag failed: ${String(r)}`);
  const mine = r.find((s) => s.localPort === port);
  assert.ok(mine, 'our listener is in the dump');
  assert.equal(mine.state, 10);
  assert.equal(mine.localAddress, '127.0.0.1');
  assert.equal(mine.wqueue, 37, 'wqueue is the backlog (sk_max_ack_backlog)');
  assert.equal(mine.rqueue, 0);
  assert.equal(mine.drops, 0, 'drops (sk_drops via INET_DIAG_SKMEMINFO) is a number on this kernel');
  assert.ok(mine.inode > 0);
  // The inode matches what /proc shows for our own fd table.
  const links = fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
  assert.ok(links.includes(`socket:[${mine.inode}]`));
  // Only LISTEN sockets were asked for.
  assert.ok(r.every((s) => s.state === 10));
  const v6 = native.inetDiag(AF_INET6, LISTEN);
  assert.ok(Array.isArray(v6) || v6 < 0);
  assert.ok(typeof native.inetDiag(1, LISTEN) === 'number' && (native.inetDiag(1, LISTEN) as number) < 0, 'AF_UNIX is refused');
});

test('inetDiag drops: a full listener counts its own dropped SYNs, other listeners do not', async (t) => {
  const port = neverAcceptingListener(t);
  const healthy = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => healthy.listen({ host: '127.0.0.1', port: 0 }, r));
  t.after(() => healthy.close());
  const healthyPort = (healthy.address() as net.AddressInfo).port;
  const find = (p: number) => {
    const l = diagListener(p);
    assert.ok(l, `inet_diag has the listener on port ${p}`);
    return l;
  };
  assert.equal(find(port).drops, 0);
  const clients: net.Socket[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  // Bounded: 6 connects; all but the first find the queue full and their SYNs are dropped.
  for (let i = 0; i < 6; i++) {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('error', () => {});
    clients.push(c);
  }
  let drops = 0;
  for (let i = 0; i < 40 && drops === 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    drops = find(port).drops ?? 0;
  }
  assert.ok(drops > 0, 'the full listener counted drops');
  assert.equal(find(healthyPort).drops, 0, 'the healthy listener next to it did not');
});

test('kcmpFile: same description, different descriptions, bad fd', (t) => {
  const fd = fs.openSync('/dev/null', 'r');
  const other = fs.openSync('/dev/null', 'r');
  t.after(() => {
    fs.closeSync(fd);
    fs.closeSync(other);
  });
  const r = native.kcmpFile(process.pid, process.pid, fd, fd);
  if (r === -38) return t.skip('kernel without kcmp (ENOSYS)');
  assert.equal(r, 0);
  const diff = native.kcmpFile(process.pid, process.pid, fd, other);
  assert.ok(diff === 1 || diff === 2 || diff === 3, `different files compare unequal, got ${diff}`);
  assert.ok(native.kcmpFile(process.pid, process.pid, fd, 1_000_000) < 0, 'a closed fd is an error');
});
