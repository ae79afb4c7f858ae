/**
 * Hostile and broken clients: each case ends with its close code (or a
 * closed connection), the server keeps serving, and nothing leaks: the
 * process's fd count comes back and RSS stays bounded over many rounds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type HttpServer } from '../../src/http/index.js';
import { openFds, waitFor } from '../helpers.js';
import { closeFrame, frame, RawClient } from './raw.js';

let server: HttpServer;
let closedCount = 0;

before(async () => {
  server = await serve({
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no', { status: 426 })),
    websocket: {
      maxPayloadLength: 32 * 1024,
      idleTimeout: 2,
      closeTimeout: 0.5,
      message(ws, m) {
        ws.send(m);
      },
      close() {
        closedCount++;
      },
    },
  });
});

after(() => server.stop({ timeout: 500 }));

const cases: [string, number, () => Buffer[]][] = [
  ['unmasked frame', 1002, () => [frame({ op: 1, payload: 'x', mask: false })]],
  ['RSV bits', 1002, () => [frame({ op: 2, payload: 'x', rsv: 2 })]],
  ['reserved opcode', 1002, () => [frame({ op: 0xb })]],
  ['lone continuation', 1002, () => [frame({ op: 0, payload: 'x' })]],
  ['fragmented ping', 1002, () => [frame({ op: 9, fin: false })]],
  ['oversized ping', 1002, () => [frame({ op: 9, payload: Buffer.alloc(200) })]],
  ['bad UTF-8', 1007, () => [frame({ op: 1, payload: Buffer.from([0xff, 0xfe]) })]],
  ['bad UTF-8 across fragments', 1007, () => [frame({ op: 1, fin: false, payload: Buffer.from([0xe2, 0x82]) }), frame({ op: 0, payload: Buffer.from([0x41]) })]],
  ['too big', 1009, () => [frame({ op: 2, payload: Buffer.alloc(40 * 1024) })]],
  ['too big in fragments', 1009, () => [frame({ op: 2, fin: false, payload: Buffer.alloc(20 * 1024) }), frame({ op: 0, payload: Buffer.alloc(20 * 1024) })]],
  ['bad close code', 1002, () => [closeFrame(1005)]],
  ['1-byte close', 1002, () => [frame({ op: 8, payload: Buffer.from([1]) })]],
  ['huge length', 1002, () => [Buffer.from([0x82, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])]],
];

async function goodEcho(): Promise<void> {
  const c = await RawClient.open(server.port);
  c.send(frame({ op: 1, payload: 'still here' }));
  assert.equal((await c.frameAt(0)).payload.toString(), 'still here');
  c.send(closeFrame(1000));
  await c.closed();
}

describe('bad input', () => {
  for (const [name, code, frames] of cases) {
    it(`${name}: closed with ${code}, and the server still serves`, async () => {
      const c = await RawClient.open(server.port);
      c.send(...frames());
      assert.equal((await c.closed()).code, code);
      await goodEcho();
    });
  }

  it('a client that resets mid-message, half-closes mid-frame, or sends garbage instead of a handshake', async () => {
    const before = closedCount;
    const a = await RawClient.open(server.port);
    a.send(frame({ op: 2, payload: Buffer.alloc(10_000) }).subarray(0, 5000));
    a.socket.resetAndDestroy();
    const b = await RawClient.open(server.port);
    b.send(frame({ op: 1, payload: 'half' }).subarray(0, 4));
    b.socket.end();
    await b.closed();
    const g = await RawClient.connect(server.port);
    g.socket.write('\x88\x80garbage\r\n\r\n');
    await g.until(() => g.ended || g.head !== '', 'an answer');
    g.destroy();
    await waitFor(() => closedCount >= before + 2, 5000, 'both sockets closed');
    await goodEcho();
  });

  it('many rounds of every case leak no fds and keep memory bounded', async () => {
    await goodEcho(); // warm up
    global.gc?.();
    const fds = openFds();
    const rss = process.memoryUsage().rss;
    for (let round = 0; round < 15; round++) {
      await Promise.all(
        cases.map(async ([, code, frames]) => {
          const c = await RawClient.open(server.port);
          c.send(...frames());
          assert.equal((await c.closed()).code, code);
          c.destroy();
        }),
      );
    }
    await goodEcho();
    await waitFor(() => openFds() <= fds, 5000, `fd count back to ${fds} (now ${openFds()})`);
    const grown = process.memoryUsage().rss - rss;
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
  });
});
