/**
 * tls.sni as a callback: the handshake waits for its (sync or async) answer,
 * an answer of undefined gives the default certificate, a throw fails only
 * that handshake, each loop asks once per name, setSecureContext brings a new
 * callback, and on 2 worker loops the callback still runs on the server's
 * thread. Checked with node:tls, curl --resolve and openssl s_client -servername.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { serve, type HttpServer } from '../../src/http/index.js';
import type { TlsCertificate } from '../../src/reactor/tls/options.js';
import { execTool, requireTool, within } from '../helpers.js';
import { testCerts } from './certs.js';

/** The CN of the certificate the server presents for `servername` (undefined: no SNI), or the handshake's error. */
function presented(port: number, servername?: string): Promise<string> {
  return within(
    5000,
    new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: testCerts().ca, servername: servername ?? '', rejectUnauthorized: false }, () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.on('error', (err) => resolve(`error: ${err.message}`));
    }),
    `handshake for ${servername}`,
  );
}

function sniServer(sni: (name: string) => TlsCertificate | undefined | Promise<TlsCertificate | undefined>, loops = 1): Promise<HttpServer> {
  const c = testCerts();
  const common = { port: 0, tls: { cert: c.ecCert, key: c.ecKey, sni } };
  if (loops === 1) return serve({ ...common, handler: (req, res) => res.end(`sni ${req.tls?.servername}\n`) });
  return serve({ ...common, loops, module: new URL('../../src/http/demo.js', import.meta.url) });
}

test('a callback picks the certificate: async answers, undefined for the default, a throw fails that handshake only; asked once per name', async () => {
  const c = testCerts();
  const asked: string[] = [];
  const s = await sniServer(async (name) => {
    asked.push(name);
    await new Promise((r) => setTimeout(r, 20));
    if (name === 'boom.test') throw new Error('no certificate for you');
    return name === 'b.test' ? { cert: c.bCert, key: c.bKey } : undefined;
  });
  try {
    assert.equal(await presented(s.port, 'b.test'), 'b.test');
    assert.equal(await presented(s.port, 'other.test'), 'localhost');
    assert.equal(await presented(s.port), 'localhost', 'no SNI: the default, without asking');
    assert.match(await presented(s.port, 'boom.test'), /^error: /);
    assert.equal(await presented(s.port, 'b.test'), 'b.test');
    assert.equal(await presented(s.port, 'boom.test').then((r) => r.startsWith('error')), true, 'a failure is asked again, not kept');
    assert.deepEqual(asked, ['b.test', 'other.test', 'boom.test', 'boom.test']);
    // The server kept serving through the failures.
    const r = await fetchVia(s.port, 'b.test');
    assert.equal(r, 'sni b.test\n');
    // A new callback through setSecureContext: the answers start over.
    await s.setSecureContext({ cert: c.ecCert, key: c.ecKey, sni: (name) => (name === 'other.test' ? { cert: c.bCert, key: c.bKey } : undefined) });
    assert.equal(await presented(s.port, 'other.test'), 'b.test');
    assert.equal(await presented(s.port, 'b.test'), 'localhost');
  } finally {
    await s.stop({ timeout: 500 });
  }
});

function fetchVia(port: number, servername: string): Promise<string> {
  return within(
    5000,
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: testCerts().ca, servername, ALPNProtocols: ['http/1.1'] }, () => {
        s.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
      });
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('end', () => resolve(out.slice(out.indexOf('\r\n\r\n') + 4)));
      s.on('error', reject);
    }),
    'request',
  );
}

test('curl --resolve and openssl s_client -servername get the callback\'s certificate', async (t) => {
  const c = testCerts();
  const s = await sniServer((name) => (name === 'b.test' ? { cert: c.bCert, key: c.bKey } : undefined));
  try {
    if (requireTool(t, 'curl')) {
      const r = await execTool('curl', ['-sS', '-v', '--resolve', `b.test:${s.port}:127.0.0.1`, '--cacert', c.caFile, `https://b.test:${s.port}/`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'sni b.test\n');
      assert.match(r.stderr, /subject: CN=b\.test/);
    }
    if (requireTool(t, 'openssl')) {
      for (const v of ['-tls1_2', '-tls1_3']) {
        const r = await execTool('openssl', ['s_client', '-connect', `127.0.0.1:${s.port}`, v, '-servername', 'b.test', '-CAfile', c.caFile], '');
        assert.match(r.stdout, /subject=CN ?= ?b\.test/, `${v}: ${r.stdout.slice(0, 500)}`);
        assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
      }
    }
  } finally {
    await s.stop({ timeout: 500 });
  }
});

test('with 2 worker loops the callback runs on the server\'s thread; each loop asks at most once per name', async () => {
  const c = testCerts();
  const asked: string[] = [];
  const s = await sniServer((name) => {
    asked.push(name);
    return name === 'b.test' ? { cert: c.bCert, key: c.bKey } : undefined;
  }, 2);
  try {
    for (let i = 0; i < 6; i++) assert.equal(await presented(s.port, 'b.test'), 'b.test');
    assert.equal(await presented(s.port, 'a.test'), 'localhost');
    assert.ok(asked.filter((n) => n === 'b.test').length <= 2, asked.join(','));
    assert.ok(asked.includes('a.test'));
  } finally {
    await s.stop({ timeout: 500 });
  }
});

test('tls.sni that is neither a map nor a function is refused; a bad answer fails the handshake with the reason', async () => {
  const c = testCerts();
  await assert.rejects(serve({ port: 0, tls: { cert: c.ecCert, key: c.ecKey, sni: 42 as never }, handler: (_q, r) => r.end() }), /tls\.sni must be a map/);
  const s = await sniServer(() => ({ cert: 'not pem', key: c.bKey }));
  try {
    assert.match(await presented(s.port, 'x.test'), /^error: /);
  } finally {
    await s.stop({ timeout: 500 });
  }
});
