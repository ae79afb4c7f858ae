/**
 * `edgeloop bench ws://`: echoes counted against edgeloop's own /ws and the
 * `ws` package's server; refused handshakes, close codes and malformed frames
 * land in their buckets. wss:// runs are tested in test/tls/wss-demo.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import { handler, websocket } from '../../src/http/demo.js';
import { parseBenchArgs, type BenchOptions } from '../../src/bench/options.js';
import { startBench } from '../../src/bench/run.js';
import type { BenchResult } from '../../src/bench/result.js';
import { UsageError } from '../../src/cli/args.js';
import { runCli } from '../helpers.js';

async function bench(url: string, ...args: string[]): Promise<BenchResult> {
  const parsed = parseBenchArgs([url, ...args]);
  const running = await startBench((parsed as { options: BenchOptions }).options);
  return running.result;
}

/** Every message ends in exactly one place. */
function accounted(r: BenchResult): void {
  const e = r.errors;
  const failed = e.connectRefused + e.connectTimeout + e.connectError + e.status + e.reset + e.closed + e.timeout + e.malformed;
  assert.equal(r.requests, r.completed + failed + r.unanswered.count, JSON.stringify(r.errors));
}

function clean(r: BenchResult): void {
  for (const [k, v] of Object.entries(r.errors)) assert.equal(v, 0, `errors.${k} in ${JSON.stringify(r.errors)}`);
  accounted(r);
}

/** A TCP server that answers every connection with `reply` (bytes after the client's first read). */
function rawServer(reply: (sock: net.Socket, firstChunk: Buffer) => void): Promise<{ port: number; stop: () => Promise<void> }> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    s.once('data', (d) => reply(s, d));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        stop: () =>
          new Promise<void>((r) => {
            for (const s of socks) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

describe("against edgeloop's own /ws (serve() with the demo app)", () => {
  let server: HttpServer;
  before(async () => {
    server = await serve({ port: 0, handler, websocket });
  });
  after(() => server.stop({ timeout: 500 }));

  test('-n counts echoed messages, text and binary, pipelined', async () => {
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const text = await bench(url, '-c', '4', '-n', '400');
    clean(text);
    assert.equal(text.mode, 'websocket');
    assert.equal(text.completed, 400);
    assert.equal(text.connects, 4);
    const bin = await bench(url, '-c', '2', '-n', '300', '--binary', '--size', '70000', '--pipeline', '4');
    clean(bin);
    assert.equal(bin.completed, 300);
    assert.ok(bin.bytesIn >= 300 * 70000, String(bin.bytesIn));
  });

  test('-d runs for a time; -t 2 merges threads', async () => {
    const r = await bench(`ws://127.0.0.1:${server.port}/ws`, '-c', '4', '-t', '2', '-d', '300ms', '--pipeline', '8');
    clean(r);
    assert.ok(r.completed > 0);
    assert.ok(r.rps > 0);
  });

  test('a path the server does not upgrade (404) counts under errors.status', async () => {
    const r = await bench(`ws://127.0.0.1:${server.port}/nope`, '-c', '2', '-n', '20');
    accounted(r);
    assert.equal(r.completed, 0);
    assert.equal(r.errors.status, 20);
    assert.equal(r.errors.non2xx, 0);
    assert.deepEqual(Object.keys(r.status), ['404']);
  });

  test('the CLI: --json has the HTTP shape with status and closeCodes; human output says messages/s', async () => {
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const j = await runCli(['bench', url, '-c', '2', '-n', '50', '--json'], 30_000);
    assert.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout);
    assert.equal(o.requests, 50);
    assert.equal(o.completed, 50);
    assert.equal(typeof o.rps, 'number');
    for (const k of ['p50', 'p90', 'p99', 'p999', 'max']) assert.equal(typeof o.latencyMs[k], 'number', k);
    for (const k of ['status', 'closed', 'malformed', 'connectRefused', 'timeout']) assert.equal(o.errors[k], 0, k);
    assert.deepEqual(o.closeCodes, {});
    const h = await runCli(['bench', url, '-c', '1', '-n', '10'], 30_000);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /messages\/s/);
    assert.match(h.stdout, /10 echoed/);
    assert.match(h.stdout, /accounted +10 messages = 10 echoed \+ 0 failed \+ 0 unanswered/);
    assert.doesNotMatch(h.stdout, /requests|req\/s/);
  });
});

describe("against the ws package's server", () => {
  let wss: WebSocketServer;
  let port = 0;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    port = (wss.address() as net.AddressInfo).port;
    wss.on('connection', (ws, req) => {
      if (req.url === '/close') {
        ws.close(4001, 'go away');
        return;
      }
      if (req.url === '/ping') ws.ping('hi'); // a ping before the echoes: answered, not counted
      ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
    });
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  });

  test('echoes counted (frames masked, or ws would refuse them)', async () => {
    const r = await bench(`ws://127.0.0.1:${port}/`, '-c', '3', '-n', '300', '--pipeline', '2');
    clean(r);
    assert.equal(r.completed, 300);
    const p = await bench(`ws://127.0.0.1:${port}/ping`, '-c', '1', '-n', '5');
    clean(p);
    assert.equal(p.completed, 5);
  });

  test('a server that closes with a code: errors.closed and closeCodes', async () => {
    const r = await bench(`ws://127.0.0.1:${port}/close`, '-c', '2', '-n', '6');
    accounted(r);
    assert.equal(r.completed, 0);
    assert.equal(r.errors.closed, 6);
    assert.deepEqual(Object.keys(r.closeCodes), ['4001']);
  });
});

test('a server that is not WebSocket: plain HTTP 404 is a refused handshake, garbage frames are malformed', async () => {
  const plain = await rawServer((s) => s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
  const masked = await rawServer((s, d) => {
    const key = /Sec-WebSocket-Key: (\S+)/.exec(d.toString('latin1'))?.[1] ?? '';
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    s.write(Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0, 0, 0, 0, 0])); // a masked server frame (RFC 6455 5.1 forbids it)
  });
  try {
    const r = await bench(`ws://127.0.0.1:${plain.port}/`, '-c', '1', '-n', '3');
    accounted(r);
    assert.equal(r.errors.status, 3);
    assert.deepEqual(r.status, { '404': 3 });
    const m = await bench(`ws://127.0.0.1:${masked.port}/`, '-c', '1', '-n', '2');
    accounted(m);
    assert.equal(m.errors.malformed, 2);
  } finally {
    await plain.stop();
    await masked.stop();
  }
});

test('arguments: wss:// is WebSocket over TLS; other schemes refused; HTTP-only flags refused for ws://, ws-only ones for http://', async () => {
  const wss = parseBenchArgs(['wss://localhost/ws', '--insecure']) as { options: BenchOptions };
  assert.equal(wss.options.target.scheme, 'ws');
  assert.equal(wss.options.target.tls, true);
  assert.equal(wss.options.target.port, 443);
  assert.deepEqual(wss.options.tls, { insecure: true, servername: 'localhost' });
  assert.throws(() => parseBenchArgs(['ftp://127.0.0.1:1/']), (e: Error) => e instanceof UsageError && /unsupported URL scheme 'ftp': only http:\/\/, https:\/\/, ws:\/\/ and wss:\/\/ are supported/.test(e.message));
  assert.throws(() => parseBenchArgs(['ws://127.0.0.1:1/', '--close']), /--close is for http:\/\//);
  assert.throws(() => parseBenchArgs(['ws://127.0.0.1:1/', '-b', 'x', '--size', '3']), /not both/);
  assert.throws(() => parseBenchArgs(['http://127.0.0.1:1/', '--binary']), /--binary is for ws:\/\//);
  const ok = parseBenchArgs(['ws://127.0.0.1:1/ws', '--size', '3']) as { options: BenchOptions };
  assert.deepEqual(ok.options.ws, { binary: false });
  assert.equal(ok.options.body?.length, 3);
  const cli = await runCli(['bench', 'ftp://127.0.0.1:1/'], 10_000);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /ftp/);
});
