/**
 * Interop with real clients: the `ws` package (fragmented sends, pings,
 * large messages, close codes) and undici's WebSocket (Node's built-in
 * client, behind --experimental-websocket on Node 20).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import { within } from '../helpers.js';

let server: HttpServer;
const closes: [number, string][] = [];

before(async () => {
  server = await serve({
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('ws only', { status: 426 })),
    websocket: {
      message(ws, m) {
        if (m === 'close-me') ws.close(4000, 'as asked');
        else ws.send(m);
      },
      close(_ws, code, reason) {
        closes.push([code, reason]);
      },
    },
  });
});

after(() => server.stop({ timeout: 500 }));

function wsClient(): Promise<WebSocket> {
  return within(
    5000,
    new Promise((resolve, reject) => {
      const c = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: false });
      c.once('open', () => resolve(c));
      c.once('error', reject);
    }),
    'ws open',
  );
}

function collect(c: WebSocket, n: number): Promise<{ data: Buffer; binary: boolean }[]> {
  const got: { data: Buffer; binary: boolean }[] = [];
  return within(
    10_000,
    new Promise((resolve) => {
      c.on('message', (data: Buffer, binary: boolean) => {
        got.push({ data, binary });
        if (got.length === n) resolve(got);
      });
    }),
    `${n} messages`,
  );
}

describe('the ws package', () => {
  it('echoes text and binary of many sizes, in order', async () => {
    const c = await wsClient();
    const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20];
    const p = collect(c, sizes.length * 2);
    for (const n of sizes) {
      c.send('t'.repeat(n));
      c.send(Buffer.alloc(n, n & 0xff));
    }
    const got = await p;
    sizes.forEach((n, i) => {
      assert.equal(got[2 * i]!.binary, false);
      assert.equal(got[2 * i]!.data.length, n);
      assert.equal(got[2 * i + 1]!.binary, true);
      assert.deepEqual(got[2 * i + 1]!.data, Buffer.alloc(n, n & 0xff));
    });
    c.close();
  });

  it('a message sent in fragments (fin: false) arrives whole', async () => {
    const c = await wsClient();
    const p = collect(c, 1);
    c.send('frag', { fin: false });
    c.send('men', { fin: false });
    c.send('ted', { fin: true });
    assert.equal((await p)[0]!.data.toString(), 'fragmented');
    c.close();
  });

  it('a ping gets its pong with the payload', async () => {
    const c = await wsClient();
    const pong = within(5000, new Promise<Buffer>((r) => c.once('pong', r)), 'pong');
    c.ping('are you there');
    assert.equal((await pong).toString(), 'are you there');
    c.close();
  });

  it('close codes and reasons go both ways', async () => {
    const c = await wsClient();
    const done = within(5000, new Promise<[number, string]>((r) => c.once('close', (code: number, reason: Buffer) => r([code, reason.toString()]))), 'close');
    c.send('close-me');
    assert.deepEqual(await done, [4000, 'as asked']);
    const d = await wsClient();
    const n = closes.length;
    d.close(3001, 'client says bye');
    await within(5000, new Promise((r) => d.once('close', r)), 'close');
    await within(2000, (async () => { while (closes.length === n) await new Promise((r) => setTimeout(r, 10)); })(), 'server close handler');
    assert.deepEqual(closes.at(-1), [3001, 'client says bye']);
  });
});

describe("undici's WebSocket (node --experimental-websocket)", () => {
  it('connects, echoes text and binary, and closes cleanly', async () => {
    const script = `
      const ws = new WebSocket(process.argv[1]);
      ws.binaryType = 'arraybuffer';
      const got = [];
      ws.onopen = () => { ws.send('héllo'); ws.send(new Uint8Array([1, 2, 3])); };
      ws.onmessage = (e) => {
        got.push(typeof e.data === 'string' ? e.data : Array.from(new Uint8Array(e.data)));
        if (got.length === 2) ws.close(1000, 'done');
      };
      ws.onclose = (e) => { console.log(JSON.stringify({ got, code: e.code, reason: e.reason, clean: e.wasClean })); };
      ws.onerror = (e) => { console.log(JSON.stringify({ error: String(e.message ?? e) })); };
    `;
    const out = await within(
      15_000,
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', script, `ws://127.0.0.1:${server.port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let s = '';
        let e = '';
        child.stdout.on('data', (b: Buffer) => (s += b.toString()));
        child.stderr.on('data', (b: Buffer) => (e += b.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`undici client exited ${code}: ${e}`))));
      }),
      'the undici client',
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { got: unknown[]; code: number; reason: string; clean: boolean };
    assert.deepEqual(r, { got: ['héllo', [1, 2, 3]], code: 1000, reason: 'done', clean: true });
  });
});
