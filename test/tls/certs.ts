/**
 * Test certificates, made at test time with the openssl CLI in a temp dir:
 * a root CA, an intermediate, an ECDSA P-256 leaf for localhost (signed by
 * the root), an RSA leaf for rsa.test (signed by the intermediate: its PEM
 * is a chain), a second ECDSA leaf for b.test (SNI), and a client
 * certificate (mTLS). Made once per process.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';

export interface TestCerts {
  dir: string;
  caFile: string;
  ca: string;
  /** ECDSA P-256, CN/SAN localhost and 127.0.0.1, signed by the root. */
  ecCert: string;
  ecKey: string;
  ecCertFile: string;
  ecKeyFile: string;
  /** RSA 2048, SAN rsa.test and 127.0.0.1, leaf + intermediate. */
  rsaChain: string;
  rsaKey: string;
  /** ECDSA, SAN b.test. */
  bCert: string;
  bKey: string;
  /** A client certificate signed by the root (mTLS). */
  clientCert: string;
  clientKey: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** base64 SHA-256 of the localhost leaf's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  ecSpkiHash: string;
}

let made: TestCerts | undefined;

function ossl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function leaf(dir: string, name: string, keyArgs: string[], subj: string, san: string, signer: string, ext = 'serverAuth'): void {
  ossl(dir, ['genpkey', ...keyArgs, '-out', `${name}.key`]);
  ossl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`]);
  fs.writeFileSync(
    path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${ext}\n${san ? `subjectAltName=${san}\n` : ''}`,
  );
  ossl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

export function testCerts(): TestCerts {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-tls-'));
  const ec = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  ossl(dir, ['genpkey', ...ec, '-out', 'ca.key']);
  ossl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=edgeloop test CA', '-days', '2', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt']);
  ossl(dir, ['genpkey', ...ec, '-out', 'int.key']);
  ossl(dir, ['req', '-new', '-key', 'int.key', '-subj', '/CN=edgeloop test intermediate', '-out', 'int.csr']);
  fs.writeFileSync(path.join(dir, 'int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
  ossl(dir, ['x509', '-req', '-in', 'int.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256',
    '-extfile', 'int.ext', '-out', 'int.crt']);
  leaf(dir, 'ec', ec, '/CN=localhost', 'DNS:localhost,IP:127.0.0.1', 'ca');
  leaf(dir, 'rsa', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], '/CN=rsa.test', 'DNS:rsa.test,IP:127.0.0.1', 'int');
  leaf(dir, 'b', ec, '/CN=b.test', 'DNS:b.test', 'ca');
  leaf(dir, 'client', ec, '/CN=edgeloop test client', '', 'ca', 'clientAuth');
  const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
  const ecCert = read('ec.crt');
  const spki = new X509Certificate(ecCert).publicKey.export({ type: 'spki', format: 'der' });
  made = {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    ca: read('ca.crt'),
    ecCert,
    ecKey: read('ec.key'),
    ecCertFile: path.join(dir, 'ec.crt'),
    ecKeyFile: path.join(dir, 'ec.key'),
    rsaChain: read('rsa.crt') + read('int.crt'),
    rsaKey: read('rsa.key'),
    bCert: read('b.crt'),
    bKey: read('b.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    clientCertFile: path.join(dir, 'client.crt'),
    clientKeyFile: path.join(dir, 'client.key'),
    ecSpkiHash: createHash('sha256').update(spki).digest('base64'),
  };
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return made;
}
