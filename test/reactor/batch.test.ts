/**
 * Gathered I/O (gatherReads / gatherWrites): a loop turn's reads are made
 * together before its events are handled, its writes together at its end.
 * What a handler sees must not change: bytes in order, none lost, the FIN
 * after the data, backpressure when the kernel does not take everything, a
 * reader paused in the middle of a turn keeping what was read for it.
 * Real sockets on 127.0.0.1, bounded waits, every server stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { TcpServer, type ServerHandlers, type TcpConnection } from '../../src/reactor/index.js';
import { waitFor } from '../helpers.js';

/** A one-loop server whose connections gather their reads and writes before `handlers` see them. */
function gatheringServer(handlers: ServerHandlers): TcpServer {
  return new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      ...handlers,
      onConnection(conn) {
        conn.gatherReads = true;
        conn.gatherWrites = true;
        handlers.onConnection?.(conn);
      },
    },
  });
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

test('gathered writes of one turn (small, a large one sent as it is, small again) arrive whole and in order, then the FIN', async () => {
  const parts = [pattern(100, 1), pattern(200_000, 2), pattern(50, 3), pattern(70_000, 4), pattern(10, 5)];
  const server = gatheringServer({
    onMessage(conn, buf) {
      buf.retrieveAll();
      for (const p of parts) conn.send(p);
      conn.shutdown(); // the FIN must follow every byte, gathered or not
    },
  });
  const { port } = await server.listen();
  const s = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  try {
    await once(s, 'connect');
    s.write('go');
    await once(s, 'end');
    const got = Buffer.concat(chunks);
    assert.equal(got.length, parts.reduce((a, p) => a + p.length, 0));
    assert.ok(got.equals(Buffer.concat(parts)), 'the bytes arrived in the order they were sent');
  } finally {
    s.destroy();
    await server.stop({ timeout: 200 });
  }
});

test('a gathered write the kernel takes only in part: the rest queues behind it (bufferedAmount, high-water mark, drain) and nothing overtakes it', async () => {
  const marks: string[] = [];
  let conn: TcpConnection | undefined;
  const server = gatheringServer({
    onConnection(c) {
      c.highWaterMark = 256 * 1024;
      c.lowWaterMark = 64 * 1024;
      conn = c;
    },
    onMessage(c, buf) {
      buf.retrieveAll();
      // 60 KiB writes (each gathered) to a client that is not reading: the socket fills,
      // the rest of the turn's writes queue in order.
      for (let i = 0; i < 160; i++) c.send(pattern(60 * 1024, i));
    },
    onHighWaterMark: () => marks.push('high'),
    onDrain: () => marks.push('drain'),
  });
  const { port } = await server.listen();
  const s = net.connect(port, '127.0.0.1');
  try {
    await once(s, 'connect');
    s.pause();
    s.write('go');
    await waitFor(() => marks.includes('high'), 5000, 'the high-water mark once the kernel stopped taking bytes');
    assert.ok(conn!.bufferedAmount > 0, 'what the kernel did not take is queued');
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.resume();
    const total = 160 * 60 * 1024;
    await waitFor(() => chunks.reduce((a, c) => a + c.length, 0) >= total, 10_000, 'every byte once the client reads');
    await waitFor(() => marks.includes('drain'), 5000, 'drain after the high-water mark');
    const got = Buffer.concat(chunks);
    const want = Buffer.concat(Array.from({ length: 160 }, (_, i) => pattern(60 * 1024, i)));
    assert.ok(got.equals(want), 'in order, none lost, none doubled');
  } finally {
    s.destroy();
    await server.stop({ timeout: 200 });
  }
});

test('a reader paused by another connection\'s handler in the same turn keeps what was read ahead for it', async () => {
  const conns: TcpConnection[] = [];
  const got = new Map<TcpConnection, string>();
  let paused: TcpConnection | undefined;
  const server = gatheringServer({
    onConnection: (c) => void conns.push(c),
    onMessage(c, buf) {
      got.set(c, (got.get(c) ?? '') + new TextDecoder().decode(buf.peek()));
      buf.retrieveAll();
      // The first to speak pauses the other, whose bytes of this turn may already be read.
      if (paused === undefined) {
        paused = conns.find((o) => o !== c);
        paused?.pauseReading();
        c.loop.runAfter(30, () => paused?.resumeReading());
      }
    },
  });
  const { port } = await server.listen();
  const a = net.connect(port, '127.0.0.1');
  const b = net.connect(port, '127.0.0.1');
  try {
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);
    await waitFor(() => conns.length === 2, 3000, 'both connections accepted');
    // Both written in one tick: the loop sees both readable in one wakeup.
    a.write('from-a');
    b.write('from-b');
    await waitFor(() => [...got.values()].join('|').length === 'from-a|from-b'.length, 5000, `both messages (got ${JSON.stringify([...got.values()])})`);
    assert.deepEqual([...got.values()].sort(), ['from-a', 'from-b']);
  } finally {
    a.destroy();
    b.destroy();
    await server.stop({ timeout: 200 });
  }
});

test('a peer that sends and closes at once, read ahead: its bytes, then its FIN, reach the handler', async () => {
  const events: string[] = [];
  const server = gatheringServer({
    onMessage(_conn, buf) {
      events.push(`data:${new TextDecoder().decode(buf.peek())}`);
      buf.retrieveAll();
    },
    onPeerHalfClose(conn) {
      events.push('fin');
      conn.shutdown();
    },
  });
  const { port } = await server.listen();
  const s = net.connect(port, '127.0.0.1', () => s.end('bye'));
  s.on('error', () => {});
  s.resume();
  try {
    await waitFor(() => events.includes('fin'), 5000, `data then FIN (got ${JSON.stringify(events)})`);
    assert.deepEqual(events, ['data:bye', 'fin']);
  } finally {
    s.destroy();
    await server.stop({ timeout: 200 });
  }
});
