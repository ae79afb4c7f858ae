/**
 * HTTPS benchmark: `edgeloop serve --loops 1 --tls-cert --tls-key` vs Node's
 * `https` vs nginx (one worker, when installed), same ECDSA P-256
 * certificate, driven by wrk over https:// in the same run.
 * Run: npm run bench:tls [-- --seconds S --connections C --rounds R --no-nginx]
 *
 * Scenarios (GET /hello -> 200 "hello"):
 *   keep-alive   wrk -c C: TLS records on established connections
 *   close        wrk -c C -H "Connection: close": a new connection, so a full
 *                TLS handshake (ECDHE + ECDSA signature), per request; its
 *                requests/s are handshakes/s
 *
 * Servers are pinned to CPU 1 and wrk to CPU 0 when taskset exists. Rounds
 * alternate the servers so a noisy neighbour hurts them alike; each figure is
 * the best round. Each server's CPU time (utime + stime from /proc) per
 * request is printed too, the lowest round's, and its busy share (CPU over
 * wall time) in the best round: on a shared machine the CPU cost, and ratios
 * against the peers of the same run, are what to read. A server well under
 * 100% busy was waiting for wrk, so its requests/s is a floor, not its limit.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag } from '../src/cli/args.js';
import { int as fmt } from '../src/cli/format.js';
import { benchFlags, canPin, goalLine, has, measureWrk, percent, spawnServer, startNginx, warmUp, type Server } from './harness.js';

const FLAGS = {
  seconds: flag.int({ min: 1, max: 3600 }),
  connections: flag.int({ min: 1, max: 100_000 }),
  rounds: flag.int({ min: 1, max: 100 }),
  'no-nginx': flag.bool(),
  help: flag.bool({ short: 'h' }),
};
const values = benchFlags('bench:tls', FLAGS, 'usage: npm run bench:tls [-- --seconds S --connections C --rounds R --no-nginx]');
const seconds = values.seconds ?? 5;
const connections = values.connections ?? 64;
const rounds = values.rounds ?? 2;
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-bench-tls-'));
const certFile = path.join(tmp, 'cert.pem');
const keyFile = path.join(tmp, 'key.pem');

const NODE_HTTPS = `
const fs = require('node:fs');
const https = require('node:https');
const s = https.createServer({ cert: fs.readFileSync(${JSON.stringify(certFile)}), key: fs.readFileSync(${JSON.stringify(keyFile)}) },
  (req, res) => { res.setHeader('Content-Type', 'text/plain'); res.end('hello'); });
s.keepAliveTimeout = 120000;
s.headersTimeout = 130000;
s.listen(0, '127.0.0.1', 4096, () => console.log('listening on https://127.0.0.1:' + s.address().port));`;

const label = (scenario: string): string => (scenario === 'close' ? 'handshake' : scenario);

function wrkArgs(port: number, scenario: string): string[] {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`];
  if (scenario === 'close') args.push('-H', 'Connection: close');
  args.push(`https://127.0.0.1:${port}/hello`);
  return args;
}

async function main(): Promise<void> {
  if (!has('wrk') || !has('openssl')) {
    console.log('bench:tls: needs wrk and openssl; skipping');
    return;
  }
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  const useNginx = !values['no-nginx'] && has('nginx');
  console.log(
    `bench:tls  wrk -t1 -c${connections} -d${seconds}s over https, ECDSA P-256, ${rounds} round(s), best of; ` +
      `${canPin ? 'servers on CPU 1, wrk on CPU 0' : 'no pinning'}; node ${process.version} (OpenSSL ${process.versions.openssl})`,
  );
  if (!useNginx) console.log(values['no-nginx'] ? 'nginx: skipped (--no-nginx)' : 'nginx: not installed, skipped');
  const factories: [string, () => Promise<Server>][] = [
    ['edgeloop', () => spawnServer('edgeloop', [process.execPath, cli, 'serve', '--port', '0', '--loops', '1', '--keep-alive-timeout', '120000',
      '--tls-cert', certFile, '--tls-key', keyFile], /listening on https:\/\/[^:]+:(\d+)/)],
    ['node https', () => spawnServer('node https', [process.execPath, '-e', NODE_HTTPS], /listening on https:\/\/[^:]+:(\d+)/)],
  ];
  const nginxTls = `    ssl_certificate ${certFile};\n    ssl_certificate_key ${keyFile};\n    ssl_protocols TLSv1.2 TLSv1.3;`;
  if (useNginx) factories.push(['nginx', () => startNginx(tmp, { listen: 'ssl', extra: nginxTls })]);
  const scenarios = ['keep-alive', 'close'] as const;
  const best = new Map<string, number>();
  const cpuUs = new Map<string, number>();
  const busy = new Map<string, number>();
  const notes: string[] = [];
  const servers = new Map<string, Server>();
  try {
    for (const [name, make] of factories) servers.set(name, await make());
    await warmUp(servers.values(), (port) => `https://127.0.0.1:${port}/hello`, connections);
    for (const scenario of scenarios) {
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? [...servers.keys()] : [...servers.keys()].reverse();
        for (const name of order) {
          const srv = servers.get(name)!;
          const res = await measureWrk(srv, wrkArgs(srv.port, scenario), (seconds + 30) * 1000);
          const key = `${scenario}|${name}`;
          if (res.rps > (best.get(key) ?? 0)) {
            best.set(key, res.rps);
            busy.set(key, res.busy);
          }
          if (!Number.isNaN(res.cpuUs)) cpuUs.set(key, Math.min(cpuUs.get(key) ?? Infinity, res.cpuUs));
          if (res.errors) notes.push(`${scenario} ${name} round ${r + 1}: ${res.errors}`);
        }
      }
    }
  } finally {
    for (const s of servers.values()) await s.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const names = [...servers.keys()];
  console.log('');
  console.log(`${'scenario'.padEnd(12)}${names.map((n) => n.padStart(14)).join('')}${'  vs node https'.padStart(16)}${useNginx ? '  vs nginx'.padStart(12) : ''}`);
  for (const scenario of scenarios) {
    const el = best.get(`${scenario}|edgeloop`) ?? 0;
    const nodeRps = best.get(`${scenario}|node https`) ?? 0;
    const ng = best.get(`${scenario}|nginx`) ?? 0;
    console.log(
      `${label(scenario).padEnd(12)}${names.map((n) => fmt(best.get(`${scenario}|${n}`) ?? 0).padStart(14)).join('')}` +
        `${`${(el / nodeRps).toFixed(2)}x`.padStart(16)}${useNginx ? `${(el / ng).toFixed(2)}x`.padStart(12) : ''}`,
    );
  }
  console.log('\nserver CPU-µs per request (lower is better; the ratio is peer/edgeloop, above 1 means edgeloop spends less):');
  console.log(`${'scenario'.padEnd(12)}${names.map((n) => n.padStart(14)).join('')}${'  vs node https'.padStart(16)}${useNginx ? '  vs nginx'.padStart(12) : ''}`);
  for (const scenario of scenarios) {
    const us = (n: string): number => cpuUs.get(`${scenario}|${n}`) ?? Infinity;
    const el = us('edgeloop');
    console.log(
      `${label(scenario).padEnd(12)}${names.map((n) => us(n).toFixed(1).padStart(14)).join('')}` +
        `${`${(us('node https') / el).toFixed(2)}x`.padStart(16)}${useNginx ? `${(us('nginx') / el).toFixed(2)}x`.padStart(12) : ''}`,
    );
  }
  console.log('\nserver busy: its CPU over the best round; well under 100% = wrk set the pace:');
  console.log(`${'scenario'.padEnd(12)}${names.map((n) => n.padStart(14)).join('')}`);
  for (const scenario of scenarios) {
    console.log(`${label(scenario).padEnd(12)}${names.map((n) => percent(busy.get(`${scenario}|${n}`)).padStart(14)).join('')}`);
  }
  console.log('\nrequests/s; "handshake" is Connection: close, a full TLS handshake per request (requests/s = handshakes/s).');
  const rps = (sc: string, n: string): number | undefined => best.get(`${sc}|${n}`);
  const goal = (words: string, sc: string, peer: string, factor: number): string => {
    const a = rps(sc, 'edgeloop');
    const b = rps(sc, peer);
    if (!a || !b) return goalLine(words, undefined, `${peer} not measured`);
    const ok = a >= b * factor;
    return goalLine(words, ok, `${(a / b).toFixed(2)}x`) + (ok ? '' : clientBound(sc, peer));
  };
  console.log('goals:');
  console.log(goal('keep-alive >= 2x node https', 'keep-alive', 'node https', 2));
  console.log(goal('keep-alive >= 0.9x nginx', 'keep-alive', 'nginx', 0.9));
  console.log(goal('handshakes/s >= node https', 'close', 'node https', 1));

  /** For a missed goal: when edgeloop had CPU to spare, wrk set the pace; the CPU ratio says what the server costs. */
  function clientBound(sc: string, peer: string): string {
    const b = busy.get(`${sc}|edgeloop`);
    if (b === undefined || b >= 0.9) return '';
    const ours = cpuUs.get(`${sc}|edgeloop`);
    const theirs = cpuUs.get(`${sc}|${peer}`);
    const cpu = ours && theirs ? `; on server CPU per request ${(theirs / ours).toFixed(2)}x (${ours.toFixed(1)} vs ${theirs.toFixed(1)} us)` : '';
    return ` (client-bound: edgeloop busy ${percent(b)}, so its requests/s is a floor${cpu})`;
  }
  for (const n of notes) console.log(`note: ${n}`);
}

await main();
