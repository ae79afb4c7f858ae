/**
 * The CLI's TLS flags: `edgeloop serve --tls-cert --tls-key` with every
 * accept strategy and several loops, SIGHUP re-reading the files, `edgeloop
 * echo` with the same flags, and the mistakes (one flag alone, a key that
 * does not match).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { execTool, requireTool, runCli, startCli, waitFor, within } from '../helpers.js';
import { testCerts } from './certs.js';
import { tlsExchange } from './exchange.js';
import { FLAGS as SERVE_FLAGS } from '../../src/cli/serve.js';
import { FLAGS as ECHO_FLAGS } from '../../src/cli/echo.js';

function peerName(port: number, servername = 'localhost'): Promise<string> {
  return within(
    5000,
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: testCerts().ca, servername }, () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.on('error', reject);
    }),
    'handshake',
  );
}

test('edgeloop serve --tls-cert --tls-key with --loops 2 and each --accept strategy', async (t) => {
  if (!requireTool(t, 'curl')) return;
  const c = testCerts();
  for (const accept of ['reuseport', 'exclusive', 'dispatcher']) {
    const cli = await startCli(
      ['serve', '--port', '0', '--loops', '2', '--accept', accept, '--tls-cert', c.ecCertFile, '--tls-key', c.ecKeyFile],
      /listening on (https:\/\/127\.0\.0\.1:(\d+)) \(2 loops/,
    );
    try {
      const url = cli.match[1]!;
      const r = await execTool('curl', ['-sS', '--cacert', c.caFile, `${url}/hello`, `${url}/hello`]);
      assert.equal(r.code, 0, `${accept}: ${r.stderr}`);
      assert.equal(r.stdout, 'hellohello');
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exit;
    }
  }
});

test('SIGHUP re-reads the files, then reloads the app: new handshakes get the new certificate; a bad file keeps the old one', async () => {
  const c = testCerts();
  const dir = fs.mkdtempSync(path.join(c.dir, 'reload-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  fs.writeFileSync(certFile, c.ecCert);
  fs.writeFileSync(keyFile, c.ecKey);
  const cli = await startCli(['serve', '--port', '0', '--loops', '2', '--tls-cert', certFile, '--tls-key', keyFile], /listening on https:\/\/127\.0\.0\.1:(\d+)/);
  try {
    const port = Number(cli.match[1]);
    assert.equal(await peerName(port), 'localhost');
    fs.writeFileSync(certFile, c.bCert);
    fs.writeFileSync(keyFile, c.bKey);
    cli.child.kill('SIGHUP');
    await waitFor(() => /reloaded TLS certificate/.test(cli.stderr()), 5000, 'reload message');
    assert.equal(await peerName(port, 'b.test'), 'b.test');
    // The same SIGHUP then reloads the app: the fresh loops start with the new certificate.
    await waitFor(() => /reloaded: fresh loops serve/.test(cli.stderr()), 15000, 'app reload message');
    assert.equal(await peerName(port, 'b.test'), 'b.test');
    fs.writeFileSync(keyFile, c.ecKey); // no longer matches the certificate
    cli.child.kill('SIGHUP');
    await waitFor(() => /TLS reload failed, keeping the old certificate: .*does not match/.test(cli.stderr()), 5000, 'failure message');
    assert.equal(await peerName(port, 'b.test'), 'b.test');
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
});

test('edgeloop echo --tls-cert --tls-key echoes over TLS', async () => {
  const c = testCerts();
  const cli = await startCli(['echo', '--port', '0', '--loops', '1', '--tls-cert', c.ecCertFile, '--tls-key', c.ecKeyFile], /listening on 127\.0\.0\.1:(\d+) \(.*, tls\)/);
  try {
    const port = Number(cli.match[1]);
    const reply = await tlsExchange(port, 'ping over tls');
    assert.equal(reply, 'ping over tls');
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
});

test('TLS flag mistakes: one without the other is a usage error; a mismatched key exits 1 with the reason', async () => {
  const c = testCerts();
  const alone = await runCli(['serve', '--port', '0', '--tls-cert', c.ecCertFile]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--tls-cert needs --tls-key/);
  const missing = await runCli(['echo', '--port', '0', '--tls-cert', path.join(c.dir, 'nope.pem'), '--tls-key', c.ecKeyFile]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--tls-cert .*nope\.pem: cannot read it \(ENOENT/);
  for (const cmd of ['serve', 'echo']) {
    const bad = await runCli([cmd, '--port', '0', '--loops', '1', '--tls-cert', c.ecCertFile, '--tls-key', c.clientKeyFile]);
    assert.equal(bad.code, 1, `${cmd}: ${bad.stderr}`);
    assert.match(bad.stderr, new RegExp(`edgeloop ${cmd}: .*private key does not match the certificate`));
  }
});

test('serve --help and echo --help list every flag they take, --tls-cert and --tls-key among them', async () => {
  for (const [cmd, flags] of [['serve', SERVE_FLAGS], ['echo', ECHO_FLAGS]] as const) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {6}--tls-cert FILE +serve TLS with this PEM certificate/m, `${cmd} --help`);
    assert.match(r.stdout, /^ {6}--tls-key FILE +the PEM private key/m, `${cmd} --help`);
    for (const name of Object.keys(flags)) assert.match(r.stdout, new RegExp(`--${name}\\b`), `${cmd} --help lists --${name}`);
  }
});
