/**
 * TLS under TcpServer and serve(): raw TLS echo (large transfers through
 * backpressure), several loops in worker threads resuming each other's
 * tickets, mTLS, setSecureContext with live connections, bad configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { TcpServer } from '../../src/reactor/index.js';
import echo from '../../src/cli/echoHandlers.js';
import { serve } from '../../src/http/index.js';
import { execTool, fixture, requireTool, within } from '../helpers.js';
import { testCerts } from './certs.js';

function tlsRoundTrip(
  port: number,
  data: Uint8Array,
  opts: tls.ConnectionOptions = {},
): Promise<{ reply: Buffer; protocol: string | null; reused: boolean; session: Buffer | undefined }> {
  return within(
    10_000,
    new Promise((resolve, reject) => {
      let session: Buffer | undefined;
      let protocol: string | null = null;
      let reused = false;
      const s = tls.connect({ host: '127.0.0.1', port, ca: testCerts().ca, servername: 'localhost', ...opts }, () => {
        protocol = s.getProtocol();
        reused = s.isSessionReused();
        s.end(data);
      });
      s.on('session', (sess: Buffer) => (session = sess));
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => resolve({ reply: Buffer.concat(chunks), protocol, reused, session }));
      s.on('error', reject);
    }),
    'TLS round trip',
  );
}

test('TcpServer({ tls }): echo of 4 MiB each way, RSA chain certificate, TLS 1.2 and 1.3', async () => {
  const c = testCerts();
  const server = new TcpServer({ port: 0, loops: 1, handlers: echo(), tls: { cert: c.rsaChain, key: c.rsaKey } });
  const { port } = await server.listen();
  try {
    const big = randomBytes(4 * 1024 * 1024);
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const { reply, protocol } = await tlsRoundTrip(port, big, { servername: 'rsa.test', maxVersion });
      assert.equal(protocol, maxVersion);
      assert.equal(reply.length, big.length);
      assert.ok(reply.equals(big), 'echoed bytes are the bytes sent');
    }
  } finally {
    await server.stop();
  }
});

test('TcpServer({ tls, loops: 2 }): loop threads share ticket keys, so sessions resume on either loop', async () => {
  const c = testCerts();
  const server = new TcpServer({ port: 0, loops: 2, module: fixture('echo.js'), tls: { cert: c.ecCert, key: c.ecKey } });
  const { port } = await server.listen();
  try {
    const first = await tlsRoundTrip(port, Buffer.from('one'), { maxVersion: 'TLSv1.2' });
    assert.equal(first.reply.toString(), 'one');
    assert.ok(first.session, 'a session ticket arrived');
    let reused = 0;
    for (let i = 0; i < 8; i++) {
      const r = await tlsRoundTrip(port, Buffer.from(`again ${i}`), { maxVersion: 'TLSv1.2', session: first.session });
      assert.equal(r.reply.toString(), `again ${i}`);
      if (r.reused) reused++;
    }
    assert.equal(reused, 8, 'every connection resumed, whichever loop took it');
    const loopsUsed = server.stats().filter((s) => s.accepted > 0).length;
    assert.ok(loopsUsed >= 1);
  } finally {
    await server.stop();
  }
});

test('mTLS: requestCert with a CA; the handler sees the client certificate; no certificate is refused', async (t) => {
  if (!requireTool(t, 'curl')) return;
  const c = testCerts();
  const s = await serve({
    port: 0,
    tls: { cert: c.ecCert, key: c.ecKey, ca: c.ca, requestCert: true },
    handler: (req, res) => res.end(`${req.tls?.authorized} ${req.tls?.peerCertificate?.subject}`),
  });
  try {
    const ok = await execTool('curl', ['-sS', '--cacert', c.caFile, '--cert', c.clientCertFile, '--key', c.clientKeyFile, `${s.url}/`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'true CN=edgeloop test client');
    const refused = await execTool('curl', ['-sS', '--cacert', c.caFile, `${s.url}/`]);
    assert.notEqual(refused.code, 0);
  } finally {
    await s.stop();
  }
  const lax = await serve({
    port: 0,
    tls: { cert: c.ecCert, key: c.ecKey, requestCert: true, rejectUnauthorized: false },
    handler: (req, res) => res.end(`${req.tls?.authorized} ${req.tls?.authorizationError}`),
  });
  try {
    const anon = await execTool('curl', ['-sS', '--cacert', c.caFile, `${lax.url}/`]);
    assert.equal(anon.stdout, 'false no peer certificate');
  } finally {
    await lax.stop();
  }
});

test('setSecureContext: new handshakes get the new certificate, a live connection goes on', async () => {
  const c = testCerts();
  const s = await serve({ port: 0, tls: { cert: c.ecCert, key: c.ecKey }, handler: (req, res) => res.end(req.path) });
  try {
    const live = tls.connect({ host: '127.0.0.1', port: s.port, ca: c.ca, servername: 'localhost' });
    const replies: string[] = [];
    live.setEncoding('latin1');
    live.on('data', (d: string) => replies.push(d));
    await within(5000, new Promise((r) => live.once('secureConnect', r)), 'first handshake');
    assert.equal(live.getPeerCertificate().subject.CN, "localhost");
    live.write('GET /before HTTP/1.1\r\nHost: x\r\n\r\n');
    await within(5000, new Promise((r) => live.once('data', r)), 'first reply');

    await s.setSecureContext({ cert: c.bCert, key: c.bKey });
    const fresh = await within(
      5000,
      new Promise<string>((resolve, reject) => {
        const n = tls.connect({ host: '127.0.0.1', port: s.port, ca: c.ca, servername: 'b.test' }, () => {
          resolve(String(n.getPeerCertificate().subject.CN));
          n.destroy();
        });
        n.on('error', reject);
      }),
      'handshake after reload',
    );
    assert.equal(fresh, 'b.test');
    live.write('GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await within(5000, new Promise((r) => live.once('end', r)), 'second reply');
    assert.match(replies.join(''), /\/before[\s\S]*\/after$/);

    await assert.rejects(s.setSecureContext({ cert: c.ecCert, key: c.bKey }), /does not match/);
  } finally {
    await s.stop();
  }
});

test('bad configuration fails serve() with the reason', async () => {
  const c = testCerts();
  const h = (): void => undefined;
  await assert.rejects(serve({ port: 0, handler: h, tls: { cert: 'not a pem', key: c.ecKey } }), /tls\.cert is not PEM/);
  await assert.rejects(serve({ port: 0, handler: h, tls: { cert: c.ecCert, key: c.bKey } }), /does not match the certificate/);
  await assert.rejects(serve({ port: 0, handler: h, tls: { cert: c.ecCert, key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' } }), /invalid private key/);
  await assert.rejects(serve({ port: 0, handler: h, tls: { cert: c.ecCert, key: c.ecKey, alpn: ['h2'] } }), /'h2' is not supported/);
  await assert.rejects(serve({ port: 0, handler: h, tls: { cert: c.ecCert, key: c.ecKey, requestCert: true } }), /requestCert needs tls\.ca/);
});
