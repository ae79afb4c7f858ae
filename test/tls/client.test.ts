/**
 * The TLS client: connect({ tls }) on the reactor against an edgeloop HTTPS
 * server and against Node's tls server, certificate checks (an unknown CA,
 * a wrong name, rejectUnauthorized: false), a peer that does not speak TLS,
 * and `edgeloop bench https://...` with --cacert, --insecure and --close.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { EventLoop, connect, type TcpConnection } from '../../src/reactor/index.js';
import { serve, type HttpServer } from '../../src/http/index.js';
import { runCli, within } from '../helpers.js';
import { testCerts } from './certs.js';

let server: HttpServer;
let loop: EventLoop;

before(async () => {
  const c = testCerts();
  server = await serve({ port: 0, tls: { cert: c.ecCert, key: c.ecKey }, handler: (req, res) => res.end(`hi ${req.path}`) });
  loop = new EventLoop();
});

after(async () => {
  await server?.stop({ timeout: 1000 });
  loop?.quit();
});

function get(conn: TcpConnection, path: string): Promise<string> {
  return within(
    5000,
    new Promise<string>((resolve) => {
      let got = '';
      conn.setHandlers({
        onMessage(_c, buf) {
          got += buf.retrieveAllAsString('latin1');
        },
        onClose: () => resolve(got),
      });
      conn.send(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    }),
    'GET over TLS',
  );
}

test('connect({ tls: { ca } }): resolves after the handshake; the request and response go through', async () => {
  const c = testCerts();
  const conn = await within(5000, connect(loop, { host: '127.0.0.1', port: server.port, tls: { ca: c.ca, alpn: ['http/1.1'] } }), 'connect');
  const info = conn.tlsInfo();
  assert.equal(info?.protocol, 'TLSv1.3');
  assert.equal(info?.alpnProtocol, 'http/1.1');
  assert.equal(info?.authorized, true);
  assert.equal(info?.peerCertificate?.subject, 'CN=localhost');
  assert.match(await get(conn, '/client'), /^HTTP\/1\.1 200 OK[\s\S]*hi \/client$/);
});

test('certificate checks: unknown CA and wrong name reject; rejectUnauthorized: false connects and says why', async () => {
  const c = testCerts();
  await assert.rejects(
    connect(loop, { host: '127.0.0.1', port: server.port, tls: {} }),
    (e: Error & { code?: string }) => e.code === 'ERR_TLS_HANDSHAKE' && /certificate verify failed/.test(e.message),
  );
  await assert.rejects(
    connect(loop, { host: '127.0.0.1', port: server.port, tls: { ca: c.ca, servername: 'b.test' } }),
    (e: Error & { code?: string }) => e.code === 'ERR_TLS_HANDSHAKE' && /certificate verify failed/.test(e.message),
  );
  const lax = await connect(loop, { host: '127.0.0.1', port: server.port, tls: { rejectUnauthorized: false } });
  assert.equal(lax.tlsInfo()?.authorized, false);
  assert.match(lax.tlsInfo()?.authorizationError ?? '', /unable to (get local issuer certificate|verify the first certificate)/);
  assert.match(await get(lax, '/lax'), /hi \/lax$/);
});

test('against Node tls server (RSA chain): data both ways, then a close_notify from either side', async () => {
  const c = testCerts();
  const srv = tls.createServer({ cert: c.rsaChain, key: c.rsaKey }, (s) => s.pipe(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as net.AddressInfo).port;
    const conn = await connect(loop, { host: '127.0.0.1', port, tls: { ca: c.ca, servername: 'rsa.test' } });
    assert.equal(conn.tlsInfo()?.peerCertificate?.subject, 'CN=rsa.test');
    const big = 'x'.repeat(300_000);
    const echoed = await within(
      5000,
      new Promise<number>((resolve) => {
        let n = 0;
        conn.setHandlers({
          onMessage(cc, buf) {
            n += buf.readableBytes;
            buf.retrieveAll();
            if (n >= big.length) cc.shutdown();
          },
          onClose: () => resolve(n),
        });
        conn.send(big);
      }),
      'echo through Node',
    );
    assert.equal(echoed, big.length);
  } finally {
    srv.close();
  }
});

test('a peer that does not speak TLS: the connect rejects, nothing hangs', async () => {
  const plain = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(
      connect(loop, { host: '127.0.0.1', port: (plain.address() as net.AddressInfo).port, tls: { rejectUnauthorized: false } }),
      (e: Error & { code?: string }) => e.code === 'ERR_TLS_HANDSHAKE',
    );
    await assert.rejects(
      connect(loop, { host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port, tls: { rejectUnauthorized: false, handshakeTimeout: 200 } }),
      (e: Error & { code?: string }) => e.code === 'ERR_TLS_HANDSHAKE_TIMEOUT',
    );
  } finally {
    plain.close();
    silent.close();
  }
});

interface BenchJson {
  completed: number;
  connects: number;
  status: Record<string, number>;
  tls: { handshakes: number; meanMs: number; maxMs: number } | null;
  errors: Record<string, number>;
  connectErrorCodes: Record<string, number>;
}

test('edgeloop bench https://: --cacert, --close (a handshake per request), --insecure; a failed check is counted', async () => {
  const c = testCerts();
  const url = `${server.url}/hello`;
  const run = async (args: string[], code = 0): Promise<BenchJson> => {
    const r = await runCli(['bench', url, '--json', ...args]);
    assert.equal(r.code, code, r.stderr);
    return JSON.parse(r.stdout) as BenchJson;
  };
  const ka = await run(['--cacert', c.caFile, '-n', '40', '-c', '4']);
  assert.equal(ka.completed, 40);
  assert.equal(ka.status['200'], 40);
  assert.equal(ka.tls?.handshakes, 4);
  assert.ok(ka.tls.meanMs > 0 && ka.tls.maxMs >= ka.tls.meanMs);
  const close = await run(['--cacert', c.caFile, '-n', '20', '-c', '2', '--close']);
  assert.equal(close.completed, 20);
  assert.equal(close.tls?.handshakes, 20);
  const insecure = await run(['--insecure', '-n', '5', '-c', '1']);
  assert.equal(insecure.completed, 5);
  // Nothing answered: bench says so with exit 1, and the report still counts why.
  const unverified = await run(['-n', '3', '-c', '1'], 1);
  assert.equal(unverified.completed, 0);
  assert.equal(unverified.connectErrorCodes.ERR_TLS_HANDSHAKE, 3);
  const human = await runCli(['bench', url, '--cacert', c.caFile, '-n', '5', '-c', '1']);
  assert.match(human.stdout, /tls\s+1 handshake, mean [\d.]+\s*(ms|µs|us|s), max/);
});
