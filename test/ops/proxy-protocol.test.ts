/**
 * PROXY protocol v1 and v2: the parser against the specification's formats
 * and hostile input, then real sockets on a TcpServer and an HTTP server
 * with `proxyProtocol: true` (valid, split, LOCAL, missing, malformed, slow).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TcpServer, type TcpConnection } from '../../src/reactor/index.js';
import { parseProxyHeader, V2_MAX_PAYLOAD } from '../../src/reactor/ProxyProtocol.js';
import { serve } from '../../src/http/index.js';
import { sleep, startCli, within } from '../helpers.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v2(verCmd: number, fam: number, block: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, fam]), len, block]);
}

function v2tcp4(src: number[], dst: number[], sport: number, dport: number, tlvs = Buffer.alloc(0)): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return v2(0x21, 0x11, Buffer.concat([Buffer.from(src), Buffer.from(dst), ports, tlvs]));
}

function v2tcp6(src: Buffer, dst: Buffer, sport: number, dport: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return v2(0x21, 0x21, Buffer.concat([src, dst, ports]));
}

function parse(b: Buffer | string): ReturnType<typeof parseProxyHeader> {
  const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  return parseProxyHeader(buf, 0, buf.length);
}

test('v1: TCP4, TCP6 (canonical form), UNKNOWN short and long; the length covers the CRLF only', () => {
  const tail = 'GET / HTTP/1.1\r\n\r\n';
  const r4 = parse(`PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n${tail}`);
  assert.deepEqual(r4, {
    ok: true,
    length: 45,
    command: 'proxy',
    version: 1,
    remote: { address: '192.0.2.1', port: 56324, family: 'IPv4' },
    local: { address: '198.51.100.7', port: 443, family: 'IPv4' },
  });
  const r6 = parse('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 65535 0\r\n');
  assert.ok(r6?.ok && r6.command === 'proxy');
  assert.deepEqual([r6.remote.address, r6.remote.port, r6.local.address, r6.local.port], ['2001:db8::1', 65535, '::1', 0]);
  assert.deepEqual(parse('PROXY UNKNOWN\r\n'), { ok: true, length: 15, command: 'local', version: 1 });
  const long = 'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
  assert.equal(long.length, 107);
  assert.deepEqual(parse(long), { ok: true, length: 107, command: 'local', version: 1 });
});

test('v2: TCP4, TCP6, LOCAL (its block ignored), UNSPEC, UDP and UNIX fall back to the real endpoints; TLVs skipped', () => {
  const r4 = parse(Buffer.concat([v2tcp4([203, 0, 113, 9], [10, 0, 0, 1], 40000, 8080), Buffer.from('GET')]));
  assert.deepEqual(r4, {
    ok: true,
    length: 28,
    command: 'proxy',
    version: 2,
    remote: { address: '203.0.113.9', port: 40000, family: 'IPv4' },
    local: { address: '10.0.0.1', port: 8080, family: 'IPv4' },
  });
  const src6 = Buffer.alloc(16);
  src6.writeUInt16BE(0x2001, 0);
  src6.writeUInt16BE(0x0db8, 2);
  src6[15] = 7;
  const dst6 = Buffer.alloc(16);
  dst6.writeUInt16BE(0xffff, 10);
  dst6.set([127, 0, 0, 1], 12);
  const r6 = parse(v2tcp6(src6, dst6, 1, 2));
  assert.ok(r6?.ok && r6.command === 'proxy');
  assert.deepEqual([r6.remote.address, r6.local.address, r6.remote.family], ['2001:db8::7', '::ffff:127.0.0.1', 'IPv6']);
  // LOCAL with an address block anyway: skipped by its length, never used.
  assert.deepEqual(parse(v2(0x20, 0x11, Buffer.alloc(12, 1))), { ok: true, length: 28, command: 'local', version: 2 });
  assert.deepEqual(parse(v2(0x20, 0x00, Buffer.alloc(0))), { ok: true, length: 16, command: 'local', version: 2 });
  assert.deepEqual(parse(v2(0x21, 0x00, Buffer.alloc(0))), { ok: true, length: 16, command: 'local', version: 2 });
  assert.deepEqual(parse(v2(0x21, 0x12, Buffer.alloc(12))), { ok: true, length: 28, command: 'local', version: 2 });
  assert.deepEqual(parse(v2(0x21, 0x31, Buffer.alloc(216))), { ok: true, length: 232, command: 'local', version: 2 });
  // TLVs: ALPN "h2", an authority, NOOP padding of zero length.
  const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x02, 0x00, 0x03, 0x61, 0x2e, 0x62, 0x04, 0x00, 0x00]);
  const rt = parse(v2tcp4([1, 2, 3, 4], [5, 6, 7, 8], 9, 10, tlvs));
  assert.ok(rt?.ok && rt.command === 'proxy');
  assert.equal(rt.length, 16 + 12 + tlvs.length);
  assert.equal(rt.remote.address, '1.2.3.4');
});

test('every proper prefix of a valid header asks for more bytes; a wrong byte fails at once', () => {
  const headers = [
    Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n'),
    Buffer.from('PROXY UNKNOWN\r\n'),
    v2tcp4([1, 2, 3, 4], [5, 6, 7, 8], 9, 10, Buffer.from([0x04, 0x00, 0x01, 0x00])),
    v2(0x20, 0x00, Buffer.alloc(0)),
  ];
  for (const h of headers) {
    for (let n = 0; n < h.length; n++) assert.equal(parseProxyHeader(h, 0, n), null, `${n} bytes of ${JSON.stringify(h.toString('latin1'))}`);
    assert.ok(parseProxyHeader(h, 0, h.length)?.ok);
  }
  assert.deepEqual(parse('G'), { ok: false, reason: 'not a PROXY protocol header' });
  assert.deepEqual(parse('PROXI'), { ok: false, reason: 'not a PROXY protocol header' });
  assert.deepEqual(parse(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])), { ok: false, reason: 'not a PROXY protocol header' });
});

test('malformed headers are refused, each with a reason', () => {
  const bad: (string | Buffer)[] = [
    'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\n', // LF alone
    'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\rX',
    'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 \r\n', // a sixth field
    'PROXY TCP4  192.0.2.1 198.51.100.7 56324 443\r\n', // two spaces
    'PROXY TCP4 192.0.2.01 198.51.100.7 56324 443\r\n', // leading zero
    'PROXY TCP4 192.0.2.256 198.51.100.7 56324 443\r\n',
    'PROXY TCP4 192.0.2.1 198.51.100.7 056324 443\r\n',
    'PROXY TCP4 192.0.2.1 198.51.100.7 65536 443\r\n',
    'PROXY TCP4 192.0.2.1 198.51.100.7 -1 443\r\n',
    'PROXY TCP4 ::1 ::1 1 2\r\n', // family mismatch
    'PROXY TCP6 192.0.2.1 ::1 1 2\r\n',
    'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
    'PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n',
    'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
    'PROXY TCP4 1.2.3.4\x00 5.6.7.8 1 2\r\n',
    `PROXY UNKNOWN ${'f'.repeat(100)}`, // no CRLF in 107 bytes
    v2(0x11, 0x11, Buffer.alloc(12)), // version 1 in a v2 header
    v2(0x22, 0x11, Buffer.alloc(12)), // command 2
    v2(0x21, 0x41, Buffer.alloc(12)), // family 4
    v2(0x21, 0x13, Buffer.alloc(12)), // transport 3
    v2(0x21, 0x11, Buffer.alloc(11)), // too short for IPv4 addresses
    v2(0x21, 0x21, Buffer.alloc(35)),
    Buffer.concat([v2tcp4([1, 2, 3, 4], [5, 6, 7, 8], 9, 10, Buffer.from([0x01, 0x00]))]), // truncated TLV
    v2tcp4([1, 2, 3, 4], [5, 6, 7, 8], 9, 10, Buffer.from([0x01, 0x00, 0x05, 0x61])), // TLV past the end
  ];
  for (const b of bad) {
    const r = parse(b);
    assert.ok(r !== null && !r.ok, `refused: ${JSON.stringify(Buffer.from(b).toString('latin1'))} -> ${JSON.stringify(r)}`);
  }
  // A length beyond the cap is refused from its 16 bytes alone: no waiting for 64 KiB.
  const huge = Buffer.concat([SIG, Buffer.from([0x21, 0x11, (V2_MAX_PAYLOAD + 1) >> 8, (V2_MAX_PAYLOAD + 1) & 0xff])]);
  const r = parseProxyHeader(huge, 0, huge.length);
  assert.ok(r !== null && !r.ok && r.reason.includes('more than'));
});

// ---- real sockets ---------------------------------------------------------

interface Seen {
  connections: number;
  closes: string[];
}

/** A server that answers its first message with "remote port local port | payload" and closes. */
async function reporter(opts: { proxyHeaderTimeout?: number } = {}): Promise<{ server: TcpServer; port: number; seen: Seen }> {
  const seen: Seen = { connections: 0, closes: [] };
  const server = new TcpServer({
    port: 0,
    loops: 1,
    proxyProtocol: true,
    ...opts,
    handlers: {
      onConnection() {
        seen.connections++;
      },
      onMessage(conn: TcpConnection, buf) {
        const r = conn.remoteAddress();
        const l = conn.localAddress();
        const peer = conn.peerAddress();
        conn.send(`${r?.address} ${r?.port} ${l?.address} ${l?.port} ${peer?.address} ${conn.isProxied} | ${Buffer.from(buf.peek()).toString()}`);
        buf.retrieveAll();
        conn.close();
      },
      onClose(_c, reason) {
        seen.closes.push(reason);
      },
    },
  });
  const info = await server.listen();
  return { server, port: info.port, seen };
}

/** Sends the pieces (with a pause between them), then reads until the server closes. */
function talk(port: number, pieces: (string | Buffer)[], gapMs = 0): Promise<{ data: string; ended: boolean }> {
  return within(
    10_000,
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      let data = '';
      s.on('data', (d) => (data += d.toString('latin1')));
      s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve({ data, ended: true }) : reject(e)));
      s.on('close', () => resolve({ data, ended: true }));
      s.on('connect', async () => {
        for (const p of pieces) {
          if (s.destroyed) return;
          s.write(p);
          if (gapMs) await sleep(gapMs);
        }
      });
    }),
    'exchange',
  );
}

test('TcpServer: the header gives remoteAddress and localAddress; the bytes after it reach onMessage; split headers too', async () => {
  const { server, port, seen } = await reporter();
  try {
    const v1 = await talk(port, ['PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nhello']);
    assert.equal(v1.data, '192.0.2.1 56324 198.51.100.7 443 127.0.0.1 true | hello');
    const h2 = v2tcp4([203, 0, 113, 9], [10, 0, 0, 1], 40000, 8080);
    const split = await talk(port, [...[...h2].map((b) => Buffer.from([b])), 'world'], 2);
    assert.equal(split.data, '203.0.113.9 40000 10.0.0.1 8080 127.0.0.1 true | world');
    const v1split = await talk(port, ['PROXY TCP6 2001:db8::1 ', '2001:db8::2 1 2\r', '\nx']);
    assert.equal(v1split.data, '2001:db8::1 1 2001:db8::2 2 127.0.0.1 true | x');
    assert.equal(seen.connections, 3);
  } finally {
    await server.stop();
  }
});

test('TcpServer: LOCAL (a balancer health check) and UNKNOWN are served with the real endpoints', async () => {
  const { server, port } = await reporter();
  try {
    const local = await talk(port, [Buffer.concat([v2(0x20, 0x00, Buffer.alloc(0)), Buffer.from('ping')])]);
    assert.match(local.data, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${port} 127\\.0\\.0\\.1 false \\| ping$`));
    const unknown = await talk(port, ['PROXY UNKNOWN\r\nping']);
    assert.match(unknown.data, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${port} 127\\.0\\.0\\.1 false \\| ping$`));
  } finally {
    await server.stop();
  }
});

test('TcpServer: missing, malformed, half-closed and late headers close the connection unserved', async () => {
  const { server, port, seen } = await reporter({ proxyHeaderTimeout: 300 });
  try {
    const missing = await talk(port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n']);
    assert.deepEqual(missing, { data: '', ended: true });
    const malformed = await talk(port, ['PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\nhello']);
    assert.deepEqual(malformed, { data: '', ended: true });
    const v2bad = await talk(port, [v2(0x23, 0x11, Buffer.alloc(12))]);
    assert.deepEqual(v2bad, { data: '', ended: true });
    // Half a header, then FIN: nothing can complete it.
    const halfClosed = await new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => s.end('PROXY TCP4 1.2.3.4'));
      let d = '';
      s.on('data', (b) => (d += b.toString()));
      s.on('close', () => resolve(d));
      s.on('error', () => undefined);
    });
    assert.equal(halfClosed, '');
    // Half a header, then silence: the header timeout closes it.
    const slow = await talk(port, ['PROXY TCP4 1.2.3.4 5.6.7.8']);
    assert.deepEqual(slow, { data: '', ended: true });
    const silent = await talk(port, []);
    assert.deepEqual(silent, { data: '', ended: true });
    assert.equal(seen.connections, 0, 'the handlers never heard of them');
    assert.deepEqual(seen.closes, [], 'nor of their close');
    const st = server.stats()[0]!;
    assert.equal(st.proxyRejected, 6);
    assert.equal(st.active, 0);
    assert.equal(st.closed.timeout, 2);
  } finally {
    await server.stop();
  }
});

test('TcpServer: stop() closes connections still waiting for their header', async () => {
  const { server, port } = await reporter({ proxyHeaderTimeout: 60_000 });
  const s = net.connect({ port, host: '127.0.0.1' });
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.on('connect', () => r()));
  s.write('PROXY ');
  await sleep(50);
  await within(5000, server.stop({ timeout: 10_000 }), 'stop');
  await within(5000, closed, 'client sees the close');
});

test('HTTP: req.remoteAddress/remotePort/localAddress/localPort come from the PROXY header', async () => {
  const server = await serve({
    port: 0,
    proxyProtocol: true,
    handler(req, res) {
      res.end(JSON.stringify([req.remoteAddress, req.remotePort, req.remoteFamily, req.localAddress, req.localPort]));
    },
  });
  try {
    const r = await talk(server.port, ['PROXY TCP6 2001:db8::5 2001:db8::1 50000 443\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    assert.match(r.data, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(r.data.endsWith('["2001:db8::5",50000,"IPv6","2001:db8::1",443]'), r.data);
    const none = await talk(server.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n']);
    assert.equal(none.data, '', 'no header: no HTTP answer at all');
  } finally {
    await server.stop();
  }
});

test('proxyProtocol options are checked', () => {
  const handlers = {};
  assert.throws(() => new TcpServer({ port: 0, loops: 1, handlers, proxyHeaderTimeout: 0 }), /proxyHeaderTimeout/);
  assert.throws(() => new TcpServer({ port: 0, loops: 1, handlers, proxyHeaderTimeout: Number.NaN }), /proxyHeaderTimeout/);
  assert.throws(() => new TcpServer({ port: 0, loops: 1, handlers, proxyProtocol: 'yes' as unknown as boolean }), /proxyProtocol/);
});

test('edgeloop echo --proxy-protocol: echoes what follows a valid header; closes a connection without one', async () => {
  const cli = await startCli(['echo', '--port', '0', '--loops', '2', '--proxy-protocol'], /listening on 127\.0\.0\.1:(\d+)/);
  try {
    const port = Number(cli.match[1]);
    const ok = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => s.end('PROXY TCP4 192.0.2.1 192.0.2.2 1000 7\r\nhello'));
      let d = '';
      s.on('data', (b) => (d += b.toString()));
      s.on('close', () => resolve(d));
      s.on('error', reject);
    });
    assert.equal(ok, 'hello');
    const none = await talk(port, ['hello']);
    assert.deepEqual(none, { data: '', ended: true });
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
});
