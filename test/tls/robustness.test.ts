/**
 * Hostile and broken input on the TLS port, each answered or closed, never
 * left hanging: plain HTTP (400 then close), garbage records, a truncated
 * ClientHello and a silent client (both closed at the handshake timeout), a
 * renegotiation attempt (refused). Afterwards the server still serves and
 * its fds and RSS are back near where they started.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { serve, type HttpServer } from '../../src/http/index.js';
import { requireTool, openFds, waitFor, within } from '../helpers.js';
import { testCerts } from './certs.js';
import { tlsExchange } from './exchange.js';

const HANDSHAKE_TIMEOUT = 300;
let server: HttpServer;
let clientHello: Buffer;

/** A real ClientHello, as Node's TLS client sends it, caught by a plain TCP server. */
function captureClientHello(): Promise<Buffer> {
  return within(
    5000,
    new Promise<Buffer>((resolve) => {
      const srv = net.createServer((sock) => {
        sock.once('data', (d: Buffer) => {
          resolve(d);
          sock.destroy();
          srv.close();
        });
      });
      srv.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', servername: 'localhost' });
        c.on('error', () => undefined);
      });
    }),
    'ClientHello capture',
  );
}

interface Outcome {
  reply: string;
  /** 'end' when the server closed (FIN or RST), 'idle' when nothing happened within the wait. */
  how: 'end' | 'idle';
}

/** Sends bytes on a raw TCP connection and waits for the server to close it. */
function rawExchange(bytes: Uint8Array | null, waitMs = 3000): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(server.port, '127.0.0.1');
    let reply = '';
    const done = (how: Outcome['how']): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ reply, how });
    };
    const timer = setTimeout(() => done('idle'), waitMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => (reply += d));
    s.on('end', () => done('end'));
    s.on('close', () => done('end'));
    s.on('error', () => done('end'));
    s.on('connect', () => {
      if (bytes) s.write(bytes);
    });
  });
}

async function stillServes(): Promise<void> {
  const body = await tlsExchange(server.port, 'GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(body, /^HTTP\/1\.1 200 OK[\s\S]*ok$/);
}

before(async () => {
  const c = testCerts();
  clientHello = await captureClientHello();
  server = await serve({
    port: 0,
    tls: { cert: c.ecCert, key: c.ecKey, handshakeTimeout: HANDSHAKE_TIMEOUT },
    handler: (_req, res) => res.end('ok'),
  });
});

after(async () => {
  await server?.stop({ timeout: 1000 });
});

test('plain HTTP on the TLS port: 400 and a close, like nginx', async () => {
  const r = await rawExchange(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  assert.equal(r.how, 'end');
  assert.match(r.reply, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*The plain HTTP request was sent to HTTPS port/);
  await stillServes();
});

test('garbage records: an alert (or nothing) and a close', async () => {
  for (const bytes of [
    Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), randomBytes(64)]), // a handshake record of noise
    Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), randomBytes(32)]), // application data before any handshake
    Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01]), // a record longer than any allowed
    randomBytes(256).fill(0x00, 0, 1), // binary noise
  ]) {
    const r = await rawExchange(bytes);
    assert.equal(r.how, 'end', `closed after ${bytes.subarray(0, 6).toString('hex')}`);
    // If anything came back, it is a TLS alert record (type 21), never a hang.
    if (r.reply.length > 0) assert.equal(r.reply.charCodeAt(0), 0x15);
  }
  await stillServes();
});

test('a truncated ClientHello and a silent client are closed at the handshake timeout', async () => {
  assert.equal(clientHello[0], 0x16, 'captured a handshake record');
  const half = clientHello.subarray(0, Math.floor(clientHello.length / 2));
  const [truncated, silent] = await Promise.all([rawExchange(half), rawExchange(null)]);
  assert.equal(truncated.how, 'end');
  assert.equal(truncated.reply, '');
  assert.equal(silent.how, 'end');
  const closed = server.stats()[0]!.closed;
  assert.ok(closed.timeout >= 2, `closed by the handshake timeout: ${JSON.stringify(closed)}`);
  await stillServes();
});

test('a TLS 1.2 renegotiation attempt is refused; the server keeps serving', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const { spawn } = await import('node:child_process');
  const out = await within(
    10_000,
    new Promise<string>((resolve) => {
      const c = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-tls1_2', '-CAfile', testCerts().caFile]);
      let o = '';
      c.stdout.on('data', (d: Buffer) => (o += d.toString()));
      c.stderr.on('data', (d: Buffer) => (o += d.toString()));
      setTimeout(() => c.stdin.write('R\n'), 300);
      const guard = setTimeout(() => c.kill(), 5000);
      c.on('close', () => {
        clearTimeout(guard);
        resolve(o);
      });
    }),
    's_client renegotiation',
  );
  assert.match(out, /RENEGOTIATING/);
  assert.match(out, /no renegotiation/);
  await stillServes();
});

test('after 150 bad connections: fds back to where they were, RSS bounded', async () => {
  await stillServes();
  const fds0 = openFds();
  const rss0 = process.memoryUsage().rss;
  const half = clientHello.subarray(0, 40);
  for (let round = 0; round < 30; round++) {
    await Promise.all([
      rawExchange(Buffer.from('GET / HTTP/1.1\r\n\r\n')),
      rawExchange(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), randomBytes(64)])),
      rawExchange(half),
      rawExchange(clientHello), // a whole ClientHello, then the client vanishes
      rawExchange(null, 50), // connects and leaves at once
    ]);
  }
  await waitFor(() => server.stats()[0]!.active === 0, 5000, 'every bad connection closed');
  await stillServes();
  assert.ok(openFds() <= fds0 + 2, `fds: ${fds0} before, ${openFds()} after`);
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
});
