/**
 * Pub/sub fan-out under load: published frames are queued per subscriber and
 * leave once per loop turn, and cross-loop records wake the other loop once
 * per turn. These check what that batching must keep: exactly once, publish
 * order per publisher (many messages per turn, on both loops and from the
 * main thread), order against sends and close frames in the same turn, and
 * a slow subscriber dropped (or closed) without holding the others back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type HttpServer } from '../../src/http/index.js';
import type { ServerWebSocket } from '../../src/ws/index.js';
import { SendStatus } from '../../src/ws/index.js';
import { sleep, waitFor } from '../helpers.js';
import { closeFrame, frame, RawClient } from './raw.js';

/** A raw subscriber of the pubsub-app fixture: resolves once it knows its loop. */
async function subscriber(port: number, topic: string): Promise<{ c: RawClient; loop: number }> {
  const c = await RawClient.open(port, `/${topic}`);
  const hello = (await c.frameAt(0)).payload.toString();
  const m = /^subscribed on loop (\d+)$/.exec(hello);
  assert.ok(m, `greeting: ${hello}`);
  return { c, loop: Number(m[1]) };
}

/** Text payloads after the greeting. */
const texts = (c: RawClient): string[] => c.frames.slice(1).map((f) => f.payload.toString());

/** Checks that `got` holds, for each publisher, exactly 0..n-1 in order (or, with `subset`, an increasing run with no repeats). */
function checkOrder(got: string[], counts: Map<string, number>, who: string, subset = false): void {
  const seen = new Map<string, number[]>();
  for (const m of got) {
    const [from, seq] = m.split(':') as [string, string];
    const list = seen.get(from) ?? [];
    list.push(Number(seq));
    seen.set(from, list);
  }
  for (const [from, n] of counts) {
    const seqs = seen.get(from) ?? [];
    if (subset) {
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `${who}: ${from} in order, no repeats`);
    } else {
      assert.equal(seqs.length, n, `${who}: exactly ${n} from ${from}`);
      assert.ok(
        seqs.every((s, k) => s === k),
        `${who}: ${from} in publish order`,
      );
    }
  }
  for (const from of seen.keys()) assert.ok(counts.has(from), `${who}: nothing from ${from}`);
}

describe('fan-out across 2 loops, many messages per turn', () => {
  let server: HttpServer;
  before(async () => {
    server = await serve({ loops: 2, accept: 'dispatcher', module: new URL('./fixtures/pubsub-app.js', import.meta.url) });
  });
  after(() => server.stop({ timeout: 1000 }));

  it('bursts from a publisher on each loop and from the main thread arrive exactly once, in order per publisher', async () => {
    const subs: { c: RawClient; loop: number }[] = [];
    for (let i = 0; i < 6; i++) subs.push(await subscriber(server.port, 'burst'));
    assert.deepEqual(new Set(subs.map((s) => s.loop)), new Set([0, 1]), 'subscribers on both loops');
    const K = 1500;
    // The first two subscribers publish too: 1,500 frames in one write each, so a loop handles hundreds per turn.
    const pubs = subs.slice(0, 2);
    pubs.forEach((p, i) => p.c.send(...Array.from({ length: K }, (_, k) => frame({ op: 1, payload: `p${i}:${k}` }))));
    for (let k = 0; k < 400; k++) server.publish('burst', `main:${k}`);
    const expect = (i: number): Map<string, number> => {
      const m = new Map<string, number>([['main', 400]]);
      pubs.forEach((_, j) => j !== i && m.set(`p${j}`, K));
      return m;
    };
    const total = (i: number): number => [...expect(i).values()].reduce((a, b) => a + b, 0);
    await waitFor(() => subs.every((s, i) => texts(s.c).length >= total(i)), 20_000, 'every delivery');
    await sleep(100); // a duplicate would show up now
    subs.forEach((s, i) => checkOrder(texts(s.c), expect(i), `subscriber ${i} (loop ${s.loop})`));
    for (const s of subs) s.c.destroy();
    await waitFor(() => server.subscriberCount('burst') === 0, 5000, 'counts back to 0');
  });

  it('a subscriber that stops reading small messages is dropped from, while the others on both loops get everything', async () => {
    const slow = await subscriber(server.port, 'slow');
    const fast = [await subscriber(server.port, 'slow'), await subscriber(server.port, 'slow')];
    const pub = await subscriber(server.port, 'slow');
    assert.equal(new Set([slow, ...fast].map((s) => s.loop)).size, 2, 'fast subscribers on both loops');
    slow.c.socket.pause();
    const pad = 'x'.repeat(1000);
    const M = 6000; // 6 MB: past the kernel's buffers plus 1 MiB maxBackpressure
    const BURST = 200;
    for (let k = 0; k < M; k += BURST) {
      pub.c.send(...Array.from({ length: BURST }, (_, j) => frame({ op: 1, payload: `pub:${k + j}:${pad}` })));
      // A window: the fast ones never queue more than a burst, so only the slow one reaches the limit.
      await waitFor(() => fast.every((s) => texts(s.c).length >= k + BURST), 10_000, `burst ${k / BURST}`);
    }
    const only = new Map([['pub', M]]);
    fast.forEach((s, i) => checkOrder(texts(s.c).map((t) => t.slice(0, t.lastIndexOf(':'))), only, `fast ${i}`));
    slow.c.socket.resume();
    await sleep(300);
    const got = texts(slow.c).map((t) => t.slice(0, t.lastIndexOf(':')));
    assert.ok(got.length < M, `the slow one lost some (${got.length} of ${M}) instead of holding the rest back`);
    checkOrder(got, only, 'slow', true);
    for (const s of [slow, ...fast, pub]) s.c.destroy();
  });
});

describe('fan-out on one loop: order against sends and close in the same turn', () => {
  it('a publish, a send, a publish and a close leave in that order; a subscriber closed with frames queued gets none', async () => {
    const socks: ServerWebSocket[] = [];
    const s = await serve({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('')),
      websocket: {
        open(ws) {
          ws.subscribe('t');
          socks.push(ws);
        },
      },
    });
    try {
      const a = await RawClient.open(s.port);
      const b = await RawClient.open(s.port);
      const gone = await RawClient.open(s.port);
      await waitFor(() => socks.length === 3);
      const [wa, , wgone] = socks as [ServerWebSocket, ServerWebSocket, ServerWebSocket];
      // All in one turn of the loop (this thread's): the publishes are queued, the send and the close are not.
      assert.ok(s.publish('t', 'one') > 0);
      assert.ok(wa.send('two') > 0);
      assert.ok(s.publish('t', 'three') > 0);
      wa.close(1000, 'bye');
      wgone.terminate();
      assert.ok(s.publish('t', 'after') > 0, 'b is still subscribed');
      await a.until(() => a.frames.some((f) => f.op === 8), 'our close frame');
      a.send(closeFrame(1000));
      assert.equal((await a.closed()).code, 1000);
      assert.deepEqual(
        a.frames.map((f) => [f.op, f.op === 8 ? f.payload.subarray(2).toString() : f.payload.toString()]),
        [
          [1, 'one'],
          [1, 'two'],
          [1, 'three'],
          [8, 'bye'],
        ],
      );
      await b.until(() => b.frames.length >= 3, 'b gets the three publishes');
      assert.deepEqual(
        b.frames.map((f) => f.payload.toString()),
        ['one', 'three', 'after'],
      );
      await gone.closed();
      assert.equal(gone.frames.length, 0, 'terminated before the turn ended: nothing written');
      for (const c of [a, b, gone]) c.destroy();
    } finally {
      await s.stop({ timeout: 500 });
    }
  });

  it("in one turn, another topic's frames and a socket's own publishes are not sent to it; the rest keep publish order", async () => {
    const socks = new Map<string, ServerWebSocket>();
    const s = await serve({
      fetch: (req, srv) => (srv.upgrade(req, { data: new URL(req.url).pathname.slice(1) }) ? undefined : new Response('')),
      websocket: {
        open(ws) {
          const name = ws.data as string;
          for (const t of name === 'both' ? ['t', 'u'] : ['t']) ws.subscribe(t);
          socks.set(name, ws);
        },
      },
    });
    try {
      const onlyT = await RawClient.open(s.port, '/onlyT');
      const both = await RawClient.open(s.port, '/both');
      await waitFor(() => socks.size === 2);
      const pub = socks.get('onlyT');
      assert.ok(pub);
      // One turn: t, u, t, onlyT's own publish to t, t.
      s.publish('t', 't1');
      s.publish('u', 'u1');
      s.publish('t', 't2');
      pub.publish('t', 'own');
      s.publish('t', 't3');
      await both.until(() => both.frames.length >= 5, 'both gets five');
      await onlyT.until(() => onlyT.frames.length >= 3, 'onlyT gets three');
      await sleep(100);
      assert.deepEqual(
        onlyT.frames.map((f) => f.payload.toString()),
        ['t1', 't2', 't3'],
      );
      assert.deepEqual(
        both.frames.map((f) => f.payload.toString()),
        ['t1', 'u1', 't2', 'own', 't3'],
      );
      for (const c of [onlyT, both]) c.destroy();
    } finally {
      await s.stop({ timeout: 500 });
    }
  });

  it('closeOnBackpressureLimit closes a slow subscriber of small publishes; the other gets every one', async () => {
    const socks: ServerWebSocket[] = [];
    const codes: number[] = [];
    const s = await serve({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('')),
      websocket: {
        maxBackpressure: 64 * 1024,
        closeOnBackpressureLimit: true,
        open(ws) {
          ws.subscribe('t');
          socks.push(ws);
        },
        close(_ws, code) {
          codes.push(code);
        },
      },
    });
    try {
      const slow = await RawClient.open(s.port);
      const fast = await RawClient.open(s.port);
      await waitFor(() => socks.length === 2);
      slow.socket.pause();
      const pad = 'y'.repeat(500);
      let k = 0;
      // Bounded: 20,000 x 500 B is 10 MB, far past the kernel's buffers and 64 KiB.
      for (; k < 20_000 && codes.length === 0; k += 100) {
        for (let j = 0; j < 100; j++) s.publish('t', `${k + j}:${pad}`);
        await fast.until(() => fast.frames.length >= k + 100, `fast gets burst ${k / 100}`);
      }
      await waitFor(() => codes.length === 1, 5000, 'the slow one closed');
      assert.equal(codes[0], 1006);
      const [slowWs] = socks;
      assert.ok(slowWs);
      assert.equal(slowWs.readyState, 3);
      assert.equal(slowWs.send('late'), SendStatus.DROPPED);
      assert.deepEqual(
        fast.frames.map((f) => Number(f.payload.toString().split(':')[0])),
        Array.from({ length: k }, (_, i) => i),
      );
      for (const c of [slow, fast]) c.destroy();
    } finally {
      await s.stop({ timeout: 500 });
    }
  });
});
