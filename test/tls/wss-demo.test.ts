/**
 * wss:// end to end on the demo server: `edgeloop serve --tls-cert --tls-key
 * --loops 2` answers /ws and /pubsub/<topic> over TLS to the `ws` package and
 * python3-websockets (each trusting the test CA), the index page's chat runs
 * in headless Chromium over https (trusting the certificate's key), and
 * `edgeloop bench wss://` counts echoes and TLS handshakes with the same JSON
 * as ws://.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import WebSocket from 'ws';
import { chromiumDom, execTool, requireTool, runCli, startCli, waitFor, within, type RunningCli } from '../helpers.js';
import { testCerts } from './certs.js';

let cli: RunningCli;
let port = 0;

before(async () => {
  const c = testCerts();
  cli = await startCli(
    ['serve', '--port', '0', '--loops', '2', '--accept', 'dispatcher', '--tls-cert', c.ecCertFile, '--tls-key', c.ecKeyFile],
    /^listening on https:\/\/127\.0\.0\.1:(\d+) /m,
  );
  port = Number(cli.match[1]);
});

after(async () => {
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exit, 0);
});

function open(url: string): Promise<{ ws: WebSocket; got: { data: Buffer; binary: boolean }[] }> {
  const ws = new WebSocket(url, { ca: testCerts().ca, perMessageDeflate: false });
  const got: { data: Buffer; binary: boolean }[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => got.push({ data, binary }));
  return within(5000, new Promise((resolve, reject) => (ws.once('open', () => resolve({ ws, got })), ws.once('error', reject))), `open ${url}`);
}

test('the ws package: /ws echoes text and a 256 KiB binary; /pubsub/<topic> reaches every other subscriber on either loop', async () => {
  const base = `wss://localhost:${port}`;
  const plain = await within(
    5000,
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      https.get(`https://localhost:${port}/ws`, { ca: testCerts().ca }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    }),
    'GET /ws over https',
  );
  assert.equal(plain.status, 426);
  assert.match(plain.body, /connect with wss:\/\/HOST:PORT\/ws/);
  const e = await open(`${base}/ws`);
  const big = Buffer.alloc(256 * 1024, 0xa5);
  e.ws.send('over tls');
  e.ws.send(big);
  await waitFor(() => e.got.length === 2, 10_000, 'echoes');
  assert.equal(e.got[0]?.binary, false);
  assert.equal(e.got[0]?.data.toString(), 'over tls');
  assert.equal(e.got[1]?.binary, true);
  assert.ok(e.got[1]?.data.equals(big));
  e.ws.close();

  const subs = [await open(`${base}/pubsub/tls`), await open(`${base}/pubsub/tls`), await open(`${base}/pubsub/tls`)];
  subs[0]?.ws.send('from 0');
  await waitFor(() => subs[1]?.got.length === 1 && subs[2]?.got.length === 1, 5000, 'relayed');
  assert.equal(subs[0]?.got.length, 0, 'the sender does not get its own message');
  assert.deepEqual(subs.slice(1).map((s) => s.got[0]?.data.toString()), ['from 0', 'from 0']);
  for (const s of subs) s.ws.close();
});

test('python3-websockets with an ssl context trusting the test CA: /ws echo and /pubsub relay', async (t) => {
  const python = requireTool(t, 'python3-websockets');
  if (!python) return;
  const script = `
import asyncio, json, ssl, sys, websockets
async def main(base, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    out = {}
    async with websockets.connect(base + '/ws', ssl=ctx) as ws:
        await ws.send('hello from python')
        out['echo'] = await ws.recv()
        await ws.send(bytes(range(256)))
        out['binary'] = (await ws.recv()) == bytes(range(256))
    async with websockets.connect(base + '/pubsub/py', ssl=ctx) as a, websockets.connect(base + '/pubsub/py', ssl=ctx) as b:
        await a.send('relayed')
        out['relay'] = await b.recv()
    print(json.dumps(out))
asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 20))
`;
  const r = await execTool(python, ['-c', script, `wss://localhost:${port}`, testCerts().caFile], undefined, 30_000);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { echo: 'hello from python', binary: true, relay: 'relayed' });
});

test('Chromium headless: the index page over https chats on wss:///pubsub/demo with another subscriber', async (t) => {
  const chromium = requireTool(t, 'chromium');
  if (!chromium) return;
  const c = testCerts();
  const profile = fs.mkdtempSync(path.join(c.dir, 'chromium-wss-'));
  const peer = await open(`wss://localhost:${port}/pubsub/demo`);
  const heard: string[] = [];
  peer.ws.on('message', (m: Buffer) => {
    heard.push(m.toString());
    if (m.toString() === 'tlsbot joined') peer.ws.send('hello over wss');
  });
  try {
    // As in the plain chat test: a page whose socket opened, or whose line arrived, after the virtual-time
    // budget is loaded again (at most 5 times: the TLS handshakes make it slower on a loaded machine).
    let r = { code: -1, stdout: '', stderr: '' };
    for (let attempt = 0; attempt < 5; attempt++) {
      heard.length = 0;
      r = await chromiumDom(chromium, profile, `https://localhost:${port}/?nick=tlsbot`, [
        '--virtual-time-budget=10000',
        `--ignore-certificate-errors-spki-list=${c.ecSpkiHash}`,
      ]);
      if (r.code !== 0 || r.stdout.includes('<li>hello over wss</li>')) break;
    }
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.deepEqual(heard, ['tlsbot joined'], 'the page announced itself over wss://');
    assert.match(r.stdout, /<p id="status">connected as tlsbot<\/p>/);
    assert.match(r.stdout, /<ol id="log"><li>hello over wss<\/li><\/ol>/);
  } finally {
    peer.ws.terminate();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});

interface WsJson {
  requests: number;
  completed: number;
  rps: number;
  connects: number;
  tls: { handshakes: number; meanMs: number; maxMs: number } | null;
  latencyMs: Record<string, number>;
  errors: Record<string, number>;
  closeCodes: Record<string, number>;
  connectErrorCodes: Record<string, number>;
}

test('edgeloop bench wss://: --cacert and --insecure count echoes and handshakes; the JSON has the ws:// keys; an unverified server fails the handshake', async () => {
  const c = testCerts();
  const url = `wss://localhost:${port}/ws`;
  const run = async (args: string[], code = 0): Promise<WsJson> => {
    const r = await runCli(['bench', url, '--json', ...args]);
    assert.equal(r.code, code, r.stderr);
    return JSON.parse(r.stdout) as WsJson;
  };
  const ok = await run(['--cacert', c.caFile, '-c', '3', '-n', '60', '--pipeline', '2']);
  assert.equal(ok.completed, 60);
  assert.equal(ok.connects, 3);
  assert.equal(ok.tls?.handshakes, 3);
  assert.ok(ok.tls.meanMs > 0 && ok.tls.maxMs >= ok.tls.meanMs);
  for (const [k, v] of Object.entries(ok.errors)) assert.equal(v, 0, `errors.${k}`);
  assert.deepEqual(ok.closeCodes, {});
  // The same keys as a ws:// run of the same server's plain twin would print: only tls differs (null there).
  const plain = await runCli(['bench', `ws://127.0.0.1:1/ws`, '--json', '-n', '1', '--connect-timeout', '1s']);
  assert.deepEqual(Object.keys(ok).sort(), Object.keys(JSON.parse(plain.stdout) as object).sort());
  const insecure = await run(['--insecure', '-c', '1', '-n', '5', '--binary', '--size', '4096']);
  assert.equal(insecure.completed, 5);
  const unverified = await run(['-c', '1', '-n', '2'], 1);
  assert.equal(unverified.completed, 0);
  assert.equal(unverified.connectErrorCodes.ERR_TLS_HANDSHAKE, 2);
  const human = await runCli(['bench', url, '--cacert', c.caFile, '-c', '1', '-n', '5']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /messages\/s/);
  assert.match(human.stdout, /tls\s+1 handshake, mean [\d.]+\s*(ms|µs|us|s), max/);
});
