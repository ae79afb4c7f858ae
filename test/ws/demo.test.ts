/**
 * The demo routes of `edgeloop serve`: /ws echoes, /pubsub/<topic> relays
 * to every other subscriber across loops, and the index lists both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startCli, waitFor, within } from '../helpers.js';

const READY = /^listening on http:\/\/([^\s]+):(\d+) /m;

function open(url: string): Promise<{ ws: WebSocket; got: { data: Buffer; binary: boolean }[] }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const got: { data: Buffer; binary: boolean }[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => got.push({ data, binary }));
  return within(5000, new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, got }));
    ws.once('error', reject);
  }), `open ${url}`);
}

test('edgeloop serve --loops 2: /ws echoes, /pubsub/<topic> reaches every other subscriber on any loop', async () => {
  const s = await startCli(['serve', '--port', '0', '--loops', '2', '--accept', 'dispatcher'], READY);
  try {
    const port = Number(s.match[2]);
    const base = `ws://127.0.0.1:${port}`;
    const index = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(index, /\/ws<\/code>/);
    assert.match(index, /\/pubsub\/&lt;topic&gt;/);
    const plain = await fetch(`http://127.0.0.1:${port}/ws`);
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get('upgrade'), 'websocket');
    assert.equal((await fetch(`http://127.0.0.1:${port}/pubsub/`)).status, 400);

    const e = await open(`${base}/ws`);
    e.ws.send('text stays text');
    e.ws.send(Buffer.from([0, 1, 2]));
    await waitFor(() => e.got.length === 2, 5000, 'echoes');
    assert.deepEqual(e.got.map((m) => [m.binary, m.binary ? [...m.data] : m.data.toString()]), [
      [false, 'text stays text'],
      [true, [0, 1, 2]],
    ]);
    e.ws.close();

    const subs: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 4; i++) subs.push(await open(`${base}/pubsub/demo`));
    const other = await open(`${base}/pubsub/elsewhere`);
    subs[0]!.ws.send('hi from 0');
    subs[3]!.ws.send(Buffer.from('bin from 3'));
    await waitFor(() => subs.every((c, i) => c.got.length === (i === 0 || i === 3 ? 1 : 2)), 5000, 'relayed messages');
    assert.deepEqual(subs[1]!.got.map((m) => m.data.toString()).sort(), ['bin from 3', 'hi from 0']);
    assert.equal(subs[0]!.got[0]!.data.toString(), 'bin from 3');
    assert.equal(subs[0]!.got[0]!.binary, true);
    assert.equal(subs[3]!.got[0]!.data.toString(), 'hi from 0');
    assert.equal(other.got.length, 0);
    for (const c of [...subs, other]) c.ws.close();
  } finally {
    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0);
  }
});
