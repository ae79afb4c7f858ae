/**
 * HTTPS with real clients: curl (TLS 1.3, TLS 1.2, SNI via --resolve, an RSA
 * chain), openssl s_client (versions, ALPN, SNI, resumption, KeyUpdate),
 * Node's tls and https clients, and wrk over https. Test certificates are
 * made at test time (certs.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import { serve, type HttpServer } from '../../src/http/index.js';
import { execTool, requireTool, within } from '../helpers.js';
import { testCerts, type TestCerts } from './certs.js';

let certs: TestCerts;
let server: HttpServer;

before(async () => {
  certs = testCerts();
  server = await serve({
    port: 0,
    tls: {
      cert: certs.ecCert,
      key: certs.ecKey,
      sni: { 'b.test': { cert: certs.bCert, key: certs.bKey }, 'rsa.test': { cert: certs.rsaChain, key: certs.rsaKey } },
    },
    handler: (req, res) => {
      const t = req.tls;
      res.setHeader('x-tls', `${t?.protocol} ${t?.alpnProtocol} ${t?.servername} ${t?.sessionReused}`);
      res.end(`hello ${req.path}\n`);
    },
  });
});

after(async () => {
  await server?.stop({ timeout: 2000 });
});

test('serve({ tls }) reports an https url', () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
});

test('curl --tlsv1.3 and --tls-max 1.2: verified against the test CA, keep-alive reused', async (t) => {
  if (!requireTool(t, 'curl')) return;
  const v13 = await execTool('curl', ['-sS', '-v', '--tlsv1.3', '--cacert', certs.caFile, `${server.url}/a`, `${server.url}/b`]);
  assert.equal(v13.code, 0, v13.stderr);
  assert.equal(v13.stdout, 'hello /a\nhello /b\n');
  assert.match(v13.stderr, /SSL connection using TLSv1\.3/);
  assert.match(v13.stderr, /ALPN: server accepted http\/1\.1|ALPN, server accepted to use http\/1\.1/);
  assert.match(v13.stderr, /Re-using existing connection|Reusing existing connection/);
  const v12 = await execTool('curl', ['-sS', '-v', '--tls-max', '1.2', '--cacert', certs.caFile, `${server.url}/c`]);
  assert.equal(v12.code, 0, v12.stderr);
  assert.equal(v12.stdout, 'hello /c\n');
  assert.match(v12.stderr, /SSL connection using TLSv1\.2 \/ ECDHE-ECDSA-AES128-GCM-SHA256/);
  // TLS 1.1 and older are refused.
  const v11 = await execTool('curl', ['-sS', '--tlsv1.1', '--tls-max', '1.1', '--cacert', certs.caFile, `${server.url}/`]);
  assert.notEqual(v11.code, 0);
});

test('curl SNI via --resolve: each name gets its certificate; rsa.test sends its chain', async (t) => {
  if (!requireTool(t, 'curl')) return;
  for (const [name, cn] of [['b.test', 'b.test'], ['rsa.test', 'rsa.test'], ['localhost', 'localhost']] as const) {
    const r = await execTool('curl', ['-sS', '-v', '--resolve', `${name}:${server.port}:127.0.0.1`, '--cacert', certs.caFile, `https://${name}:${server.port}/sni`]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, 'hello /sni\n');
    assert.match(r.stderr, new RegExp(`subject: CN=${cn.replace('.', '\\.')}`));
    assert.match(r.stderr, new RegExp(`x-tls: TLSv1\\.3 http/1\\.1 ${name.replace('.', '\\.')} false`, 'i'));
  }
});

/** s_client with stdin kept open: lines go in one by one, then the output until it exits. */
function sClient(args: string[], lines: string[], gapMs = 300): Promise<string> {
  return within(
    15_000,
    new Promise<string>((resolve) => {
      const c = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', certs.caFile, ...args]);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
      c.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
      let i = 0;
      const next = (): void => {
        if (i < lines.length) {
          c.stdin.write(lines[i++]!);
          setTimeout(next, gapMs);
        } else setTimeout(() => c.stdin.end(), gapMs);
      };
      setTimeout(next, gapMs);
      c.on('close', () => resolve(out));
    }),
    's_client',
  );
}

const GET = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

test('openssl s_client: -tls1_2 and -tls1_3 with -alpn and -servername', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const a = await sClient(['-tls1_2', '-alpn', 'http/1.1', '-servername', 'b.test'], [GET('/v12')]);
  assert.match(a, /Protocol\s*: TLSv1\.2/);
  assert.match(a, /ALPN protocol: http\/1\.1/);
  assert.match(a, /subject=CN ?= ?b\.test/);
  assert.match(a, /hello \/v12/);
  const b = await sClient(['-tls1_3', '-alpn', 'http/1.1'], [GET('/v13')]);
  assert.match(b, /New, TLSv1\.3/);
  assert.match(b, /hello \/v13/);
  // h2 is never selected: a client offering only h2 goes on without ALPN.
  const c = await sClient(['-tls1_3', '-alpn', 'h2'], [GET('/h2')]);
  assert.match(c, /No ALPN negotiated/);
  assert.match(c, /hello \/h2/);
});

test('openssl s_client: resumption (TLS 1.2 -reconnect, TLS 1.3 PSK from a saved ticket)', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const r12 = await execTool('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-tls1_2', '-reconnect', '-CAfile', certs.caFile], '');
  assert.match(r12.stdout, /Reused, TLSv1\.2/);
  const sess = path.join(certs.dir, 'sess13.pem');
  const first = await sClient(['-tls1_3', '-sess_out', sess], [GET('/first')]);
  assert.match(first, /New, TLSv1\.3/);
  assert.ok(fs.existsSync(sess), 'a TLS 1.3 ticket was saved');
  const second = await sClient(['-tls1_3', '-sess_in', sess], [GET('/second')]);
  assert.match(second, /Reused, TLSv1\.3/);
  assert.match(second, /x-tls: TLSv1\.3 null null true/i);
});

test('openssl s_client: K (KeyUpdate) mid-connection, then a request on the same connection', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const out = await sClient(['-tls1_3'], ['K\n', GET('/after-key-update')]);
  assert.match(out, /KEYUPDATE/);
  assert.match(out, /hello \/after-key-update/);
});

test('Node tls and https clients', async () => {
  const body = await within(
    5000,
    new Promise<string>((resolve, reject) => {
      https
        .get(`${server.url}/node-https`, { ca: certs.ca }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (b += d));
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    }),
    'https.get',
  );
  assert.equal(body, 'hello /node-https\n');
  const info = await within(
    5000,
    new Promise<{ proto: string | null; alpn: string | false | null; reply: string }>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, ca: certs.ca, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'], maxVersion: 'TLSv1.2' }, () => {
        s.write(GET('/node-tls'));
      });
      let reply = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (reply += d));
      s.on('end', () => resolve({ proto: s.getProtocol(), alpn: s.alpnProtocol, reply }));
      s.on('error', reject);
    }),
    'tls.connect',
  );
  assert.equal(info.proto, 'TLSv1.2');
  assert.equal(info.alpn, 'http/1.1');
  assert.match(info.reply, /hello \/node-tls/);
});

test('wrk over https: every request answered', async (t) => {
  if (!requireTool(t, 'wrk')) return;
  const r = await execTool('wrk', ['-t1', '-c8', '-d1s', `${server.url}/wrk`]);
  assert.equal(r.code, 0, r.stderr);
  const m = /(\d+) requests in/.exec(r.stdout);
  assert.ok(m && Number(m[1]) > 0, r.stdout);
  assert.doesNotMatch(r.stdout, /Socket errors|Non-2xx/);
});
