/**
 * Pub/sub across loops: a publish on any loop (or from the main thread)
 * reaches every subscriber on every loop exactly once, in publish order per
 * publisher; counts are server-wide; big messages cross in pieces; a
 * subscriber that stops reading does not hold the others back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import { waitFor, within } from '../helpers.js';

const N = 6;
const K = 50;
let server: HttpServer;

interface Sub {
  ws: WebSocket;
  loop: number;
  got: (string | Buffer)[];
}

async function subscribe(topic: string): Promise<Sub> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/${topic}`, { perMessageDeflate: false });
  const sub: Sub = { ws, loop: -1, got: [] };
  await within(
    5000,
    new Promise<void>((resolve, reject) => {
      ws.on('message', (d: Buffer, binary: boolean) => {
        const m = binary ? d : d.toString();
        const hello = typeof m === 'string' ? /^subscribed on loop (\d+)$/.exec(m) : null;
        if (hello) {
          sub.loop = Number(hello[1]);
          resolve();
        } else sub.got.push(m);
      });
      ws.once('error', reject);
    }),
    'subscribe',
  );
  return sub;
}

before(async () => {
  // dispatcher round-robin: the subscribers alternate between the two loops for sure
  server = await serve({ loops: 2, accept: 'dispatcher', module: new URL('./fixtures/pubsub-app.js', import.meta.url) });
});

after(() => server.stop({ timeout: 1000 }));

describe('pub/sub across 2 loops', () => {
  it('every message reaches every other subscriber exactly once, in order per publisher', async () => {
    const subs: Sub[] = [];
    for (let i = 0; i < N; i++) subs.push(await subscribe('room'));
    assert.deepEqual(new Set(subs.map((s) => s.loop)), new Set([0, 1]), 'subscribers on both loops');
    assert.equal(server.subscriberCount('room'), N);
    assert.equal(await (await fetch(`${server.url}/room`)).text(), `subscribers of room: ${N}\n`);
    for (let k = 0; k < K; k++) subs.forEach((s, i) => s.ws.send(`${i}:${k}`));
    for (let k = 0; k < 20; k++) assert.ok(server.publish('room', `main:${k}`) > 0);
    const want = (N - 1) * K + 20;
    await waitFor(() => subs.every((s) => s.got.length >= want), 10_000, 'all deliveries');
    await new Promise((r) => setTimeout(r, 100)); // anything extra (a duplicate) would show up now
    subs.forEach((s, i) => {
      assert.equal(s.got.length, want, `subscriber ${i} got exactly ${want}`);
      const byPublisher = new Map<string, number[]>();
      for (const m of s.got as string[]) {
        const [from, seq] = m.split(':') as [string, string];
        const list = byPublisher.get(from) ?? [];
        list.push(Number(seq));
        byPublisher.set(from, list);
      }
      assert.equal(byPublisher.has(String(i)), false, 'ws.publish skips the publisher');
      for (const [from, seqs] of byPublisher) {
        const n = from === 'main' ? 20 : K;
        assert.deepEqual(seqs, Array.from({ length: n }, (_, k) => k), `order of ${from} at ${i}`);
      }
    });
    for (const s of subs) s.ws.close();
    await waitFor(() => server.subscriberCount('room') === 0, 5000, 'counts back to 0');
  });

  it('a message larger than a ring slot crosses in pieces, intact', async () => {
    const subs = [await subscribe('big'), await subscribe('big'), await subscribe('big')];
    const big = Buffer.alloc(700 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    assert.ok(server.publish('big', big) > 0);
    subs[0]!.ws.send(big);
    await waitFor(() => subs.every((s, i) => s.got.length === (i === 0 ? 1 : 2)), 10_000, 'big deliveries');
    for (const s of subs) for (const m of s.got) assert.ok(Buffer.isBuffer(m) && m.equals(big));
    for (const s of subs) s.ws.close();
  });

  it('a subscribe() in open is in force once the client has the 101: a publish from another loop right after reaches it', async () => {
    // Two connections in a row land on different loops (dispatcher round-robin). The first
    // publishes as soon as the second's handshake is done: the 101 must not reach the second
    // before its open handler has subscribed where every loop sees it.
    const opened = (ws: WebSocket): Promise<void> =>
      within(5000, new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject))), 'open');
    for (let round = 0; round < 30; round++) {
      const topic = `race-${round}`;
      const talker = new WebSocket(`ws://127.0.0.1:${server.port}/${topic}`, { perMessageDeflate: false });
      await opened(talker);
      const listener = new WebSocket(`ws://127.0.0.1:${server.port}/${topic}`, { perMessageDeflate: false });
      const heard: string[] = [];
      listener.on('message', (d: Buffer) => heard.push(d.toString()));
      await opened(listener);
      talker.send(`ping ${round}`);
      await waitFor(() => heard.includes(`ping ${round}`), 5000, `round ${round}: the publish reached the other loop's new subscriber (heard ${JSON.stringify(heard)})`);
      listener.terminate();
      talker.terminate();
    }
  });

  it('publishing to a topic nobody follows returns 0', () => {
    assert.equal(server.publish('nobody-here', 'x'), 0);
    assert.equal(server.subscriberCount('nobody-here'), 0);
  });

  it('a subscriber that stops reading does not hold the others back', async () => {
    const slow = await subscribe('flood');
    const fast = [await subscribe('flood'), await subscribe('flood')];
    // Stop reading: the kernel buffers fill, then the server's queue for it hits maxBackpressure.
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const chunk = Buffer.alloc(64 * 1024, 1);
    const M = 80; // 5 MiB: well past the kernel buffers plus 1 MiB maxBackpressure
    for (let k = 0; k < M; k++) {
      chunk[0] = k;
      server.publish('flood', chunk);
      if (k % 8 === 7) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => fast.every((s) => s.got.length === M), 15_000, 'the fast subscribers get everything');
    for (const s of fast) assert.deepEqual(s.got.map((m) => (m as Buffer)[0]), Array.from({ length: M }, (_, k) => k));
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(slow.got.length < M, `the slow one lost some (${slow.got.length} of ${M}) instead of holding the rest back`);
    for (const s of [slow, ...fast]) s.ws.terminate();
  });
});
