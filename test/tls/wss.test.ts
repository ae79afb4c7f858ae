/**
 * wss://: the WebSocket layer over a TLS connection, with the `ws` package
 * trusting the test CA (echo of text and a large binary message, a close
 * handshake) and python3-websockets when installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import { execTool, requireTool, within } from '../helpers.js';
import { testCerts } from './certs.js';

let server: HttpServer;

before(async () => {
  const c = testCerts();
  server = await serve({
    port: 0,
    tls: { cert: c.ecCert, key: c.ecKey },
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('ws only', { status: 426 })),
    websocket: {
      message(ws, m) {
        if (m === 'bye') ws.close(4000, 'as asked');
        else ws.send(m);
      },
    },
  });
});

after(() => server?.stop({ timeout: 500 }));

test('wss:// with the ws package: text, 1 MiB binary, close handshake', async () => {
  const c = testCerts();
  const ws = new WebSocket(`wss://localhost:${server.port}/`, { ca: c.ca, perMessageDeflate: false });
  await within(5000, new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject))), 'wss open');
  const got: Buffer[] = [];
  const two = within(
    10_000,
    new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        got.push(d);
        if (got.length === 2) resolve();
      }),
    ),
    'two echoes',
  );
  const big = Buffer.alloc(1024 * 1024, 0x5a);
  ws.send('over tls');
  ws.send(big);
  await two;
  assert.equal(got[0]!.toString(), 'over tls');
  assert.ok(got[1]!.equals(big));
  const closed = within(5000, new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))), 'close');
  ws.send('bye');
  assert.equal(await closed, 4000);
});

// Debian's python3-websockets lives with the system interpreter (a python3 earlier in PATH may not have it).
const PYTHON = '/usr/bin/python3';

test('wss:// with python3-websockets', async (t) => {
  if (!requireTool(t, 'python3-websockets')) return;
  const probe = await execTool(PYTHON, ['-c', 'import websockets']);
  if (probe.code !== 0) {
    if (process.env.CI === 'true') throw new Error('python3-websockets is not installed; CI installs it');
    return t.skip('python3-websockets not installed');
  }
  const script = `
import asyncio, ssl, sys, websockets
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect(sys.argv[1], ssl=ctx) as ws:
        await ws.send("hello from python")
        print(await ws.recv())
asyncio.run(main())
`;
  const r = await execTool(PYTHON, ['-c', script, `wss://localhost:${server.port}/`, testCerts().caFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'hello from python');
});
