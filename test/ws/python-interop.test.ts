/**
 * Interop with python3-websockets (Debian's), a client nobody here wrote:
 * text and binary echo, a 1 MiB message, a fragmented one, ping/pong, the
 * close handshake with code and reason, with and without permessage-deflate
 * (the client offers it; the server accepts only when compression is on).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type HttpServer } from '../../src/http/index.js';
import { execTool, requireTool } from '../helpers.js';

const CLIENT = `
import asyncio, json, sys, websockets
async def main(url):
    out = {}
    async with websockets.connect(url, max_size=4 * 1024 * 1024) as ws:
        out['extensions'] = [e.name for e in ws.extensions]
        await ws.send('héllo')
        out['text'] = await ws.recv()
        await ws.send(bytes(range(256)))
        b = await ws.recv()
        out['binary'] = isinstance(b, bytes) and b == bytes(range(256))
        big = 'x' * (1024 * 1024)
        await ws.send(big)
        out['big'] = (await ws.recv()) == big
        await ws.send(['frag', 'ment', 'ed'])
        out['fragmented'] = await ws.recv()
        pong = await ws.ping(b'are you there')
        await asyncio.wait_for(pong, 5)
        out['pong'] = True
        await ws.close(4000, 'bye from python')
        out['close'] = [ws.close_code, ws.close_reason]
    print(json.dumps(out))
asyncio.run(asyncio.wait_for(main(sys.argv[1]), 20))
`;

async function runClient(t: TestContext, url: string): Promise<Record<string, unknown> | null> {
  const python = requireTool(t, 'python3-websockets');
  if (!python) return null;
  const r = await execTool(python, ['-c', CLIENT, url], undefined, 30_000);
  assert.equal(r.code, 0, `python3 websockets client failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

for (const compression of [false, 'dedicated', 'shared'] as const) {
  describe(`python3-websockets against edgeloop (compression: ${compression})`, () => {
    let server: HttpServer;
    const closes: [number, string][] = [];
    before(async () => {
      server = await serve({
        port: 0,
        fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('ws only', { status: 426 })),
        websocket: {
          compression,
          message: (ws, m) => void ws.send(m),
          close: (_ws, code, reason) => void closes.push([code, reason]),
        },
      });
    });
    after(() => server.stop({ timeout: 500 }));

    it('echoes text, binary, 1 MiB and fragmented messages, answers pings, closes cleanly', async (t) => {
      const out = await runClient(t, `ws://127.0.0.1:${server.port}/`);
      if (!out) return;
      assert.deepEqual(out.extensions, compression ? ['permessage-deflate'] : []);
      assert.equal(out.text, 'héllo');
      assert.equal(out.binary, true);
      assert.equal(out.big, true);
      assert.equal(out.fragmented, 'fragmented');
      assert.equal(out.pong, true);
      assert.deepEqual(out.close, [4000, 'bye from python']);
      assert.deepEqual(closes, [[4000, 'bye from python']]);
    });
  });
}
