/**
 * The client's address in handlers: req.remoteAddress & co. on native
 * requests, server.requestIP(request) in fetch handlers, the demo's /ip, and
 * X-Forwarded-For / Forwarded believed only from `trustProxy` peers
 * (spoofing attempts from untrusted peers are ignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { serve } from '../../src/http/index.js';
import { TrustProxy } from '../../src/http/trust-proxy.js';
import { request1 } from '../http/wire.js';
import { runCli, startCli } from '../helpers.js';

const GET = (extra = '') => `GET /ip HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`;

/** The client port the kernel gave a fresh connection, and what the server answered on it. */
function exchangeFrom(port: number, data: string): Promise<{ localPort: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(data));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve({ localPort: (s as net.Socket & { _lp?: number })._lp ?? 0, body: out.slice(out.indexOf('\r\n\r\n') + 4) }));
    s.on('connect', () => ((s as net.Socket & { _lp?: number })._lp = s.localPort));
  });
}

test('native handler: remoteAddress/remotePort are the TCP peer, localAddress/localPort the listener', async () => {
  const server = await serve({
    port: 0,
    handler(req, res) {
      res.end(JSON.stringify([req.remoteAddress, req.remotePort, req.remoteFamily, req.localAddress, req.localPort]));
    },
  });
  try {
    const r = await exchangeFrom(server.port, GET());
    assert.deepEqual(JSON.parse(r.body), ['127.0.0.1', r.localPort, 'IPv4', '127.0.0.1', server.port]);
  } finally {
    await server.stop();
  }
});

test('fetch handler: server.requestIP(request) is { address, family, port }; null for a Request it did not give', async () => {
  const server = await serve({
    port: 0,
    async fetch(request, srv) {
      await Promise.resolve(); // still known after an await
      const ip = srv.requestIP(request);
      const other = srv.requestIP(new Request('http://x/'));
      return Response.json({ ip, other });
    },
  });
  try {
    const r = await exchangeFrom(server.port, GET());
    assert.deepEqual(JSON.parse(r.body), { ip: { address: '127.0.0.1', port: r.localPort, family: 'IPv4' }, other: null });
  } finally {
    await server.stop();
  }
});

test('trustProxy: X-Forwarded-For from a trusted peer names the client; the chain is walked past trusted hops only', async () => {
  const server = await serve({
    port: 0,
    trustProxy: ['loopback', '10.0.0.0/8'],
    handler(req, res) {
      res.end(`${req.remoteAddress} ${req.remotePort}`);
    },
  });
  try {
    const cases: [string, string][] = [
      ['', '127.0.0.1'], // no header: the peer
      ['X-Forwarded-For: 203.0.113.7\r\n', '203.0.113.7 0'],
      ['X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.1.2.3\r\n', '203.0.113.7 0'], // 10.1.2.3 is a trusted hop
      ['X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 10.9.9.9\r\n', '198.51.100.1 0'], // repeated fields join in order
      ['X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n', '10.0.0.1 0'], // all trusted: the farthest
      ['X-Forwarded-For: garbage, 203.0.113.7\r\n', '203.0.113.7 0'],
      ['X-Forwarded-For: 203.0.113.7, garbage\r\n', '127.0.0.1'], // an unreadable nearest hop: nothing more is believed
      ['X-Forwarded-For: 2001:DB8::9\r\n', '2001:db8::9 0'],
      ['Forwarded: for=203.0.113.8\r\n', '127.0.0.1'], // not the configured header
    ];
    for (const [headers, want] of cases) {
      const r = await request1(server.port, GET(headers));
      const [address, port] = r.body.toString().split(' ');
      if (want.includes(' ')) assert.equal(`${address} ${port}`, want, headers);
      else assert.ok(address === want && Number(port) > 0, `${headers}: the peer itself, got ${r.body.toString()}`);
    }
  } finally {
    await server.stop();
  }
});

test('trustProxy: headers from an untrusted peer are ignored (no spoofing), and without trustProxy always', async () => {
  for (const trustProxy of [undefined, ['10.0.0.0/8'], ['192.0.2.1']]) {
    const server = await serve({
      port: 0,
      ...(trustProxy ? { trustProxy } : {}),
      handler(req, res) {
        res.end(req.remoteAddress);
      },
    });
    try {
      for (const spoof of ['X-Forwarded-For: 1.2.3.4\r\n', 'X-Forwarded-For: 10.0.0.1\r\n', 'Forwarded: for=1.2.3.4\r\nX-Real-IP: 1.2.3.4\r\n']) {
        const r = await request1(server.port, GET(spoof));
        assert.equal(r.body.toString(), '127.0.0.1', `${JSON.stringify(trustProxy)} ${spoof}`);
      }
    } finally {
      await server.stop();
    }
  }
});

test('proxyHeader forwarded: RFC 7239 for= nodes, quoted, bracketed IPv6 with port; obfuscated nodes stop the walk', () => {
  const tp = new TrustProxy(['127.0.0.1', '10.0.0.0/8'], 'forwarded');
  const peer = { address: '127.0.0.1', port: 5000, family: 'IPv4' as const };
  const raw = (v: string) => ['forwarded', v];
  assert.deepEqual(tp.resolve(peer, raw('for=192.0.2.60;proto=http;by=203.0.113.43')), { address: '192.0.2.60', port: 0, family: 'IPv4' });
  assert.deepEqual(tp.resolve(peer, raw('for="[2001:db8:cafe::17]:4711"')), { address: '2001:db8:cafe::17', port: 4711, family: 'IPv6' });
  assert.deepEqual(tp.resolve(peer, raw('For="192.0.2.43:47011", for=10.0.0.5')), { address: '192.0.2.43', port: 47011, family: 'IPv4' });
  assert.deepEqual(tp.resolve(peer, raw('for=unknown')), peer);
  assert.deepEqual(tp.resolve(peer, raw('for=_hidden, for=10.0.0.5')), { address: '10.0.0.5', port: 0, family: 'IPv4' });
  assert.deepEqual(tp.resolve(peer, raw('for=2001:db8::1')), peer, 'IPv6 must be bracketed');
  assert.deepEqual(tp.resolve(peer, raw('for="[2001:db8::1]:99999"')), peer);
  assert.deepEqual(tp.resolve(peer, raw('proto=https')), peer);
  // An IPv4-mapped peer matches IPv4 ranges.
  assert.equal(tp.trusts('::ffff:10.1.1.1'), true);
  assert.equal(tp.trusts('not an address'), false);
});

test('trustProxy entries are checked, each bad one named', async () => {
  for (const bad of ['10.0.0.0/33', '::/129', 'example.com', '10.0.0.0/', '10.0.0.0/08', 'fe80::1%eth0', '']) {
    await assert.rejects(serve({ port: 0, trustProxy: [bad], handler: (_q, r) => r.end() }), (e: Error) => e instanceof RangeError && e.message.includes(`'${bad}'`));
  }
  await assert.rejects(serve({ port: 0, trustProxy: '10.0.0.0/8' as unknown as string[], handler: (_q, r) => r.end() }), TypeError);
  await assert.rejects(
    serve({ port: 0, trustProxy: [], proxyHeader: 'x-real-ip' as 'forwarded', handler: (_q, r) => r.end() }),
    /proxyHeader must be/,
  );
});

test('edgeloop serve: GET /ip is the client address as text; --trust-proxy believes X-Forwarded-For; bad lists exit 2', async () => {
  const cli = await startCli(['serve', '--port', '0', '--loops', '2', '--trust-proxy', '127.0.0.1,10.0.0.0/8'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  try {
    const port = Number(cli.match[1]);
    const plain = await request1(port, GET());
    assert.equal(plain.status, 200);
    assert.equal(plain.get('content-type'), 'text/plain');
    assert.equal(plain.body.toString(), '127.0.0.1\n');
    const fwd = await request1(port, GET('X-Forwarded-For: 198.51.100.23\r\n'));
    assert.equal(fwd.body.toString(), '198.51.100.23\n');
    const post = await request1(port, 'POST /ip HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.equal(post.status, 405);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
  const bad = await runCli(['serve', '--port', '0', '--trust-proxy', '10.0.0.0/40']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^edgeloop serve: --trust-proxy: '10\.0\.0\.0\/40' is not an address or CIDR range/);
  const empty = await runCli(['serve', '--port', '0', '--trust-proxy', '10.0.0.1,,']);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /--trust-proxy must be a comma-separated list/);
});
