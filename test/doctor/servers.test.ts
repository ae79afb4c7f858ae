/**
 * Healthy servers must get no error-level finding: edgeloop's own `serve`
 * and nginx with `reuseport`, both under load from loopback clients. The
 * nginx test needs nginx (requireTool: a skip outside CI, a failure in it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { runDoctor } from '../../src/doctor/run.js';
import { codes, connect, cliPath, sleep, startProgram } from './helpers.js';
import { freePort, requireTool } from '../helpers.js';
import { startNginx, tempDir } from '../ops/tools.js';

/**
 * HTTP load on 127.0.0.1 until `until` resolves: keep-alive requests plus
 * short connections (which exercise accept). Bounded in requests and time.
 */
async function load(port: number, until: Promise<unknown>, maxRequests = 20_000): Promise<{ ok: number; failed: number }> {
  let done = false;
  void until.finally(() => (done = true));
  const deadline = Date.now() + 30_000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let ok = 0;
  let failed = 0;
  let sent = 0;
  const one = (keepAlive: boolean) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/hello', agent: keepAlive ? agent : false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        failed++;
        resolve();
      });
    });
  const worker = async (keepAlive: boolean) => {
    while (!done && sent < maxRequests && Date.now() < deadline) {
      sent++;
      await one(keepAlive);
    }
  };
  await Promise.all([...Array.from({ length: 6 }, () => worker(true)), ...Array.from({ length: 2 }, () => worker(false))]);
  agent.destroy();
  return { ok, failed };
}

test('a healthy `edgeloop serve` under load: no error-level finding', async (t) => {
  const s = await startProgram(
    process.execPath,
    [cliPath, 'serve', '--port', '0', '--loops', '2'],
    /listening on http:\/\//,
    /listening on http:\/\/\S+:(\d+) /,
  );
  t.after(() => s.stop());
  const run = runDoctor({ pid: s.pid, seconds: 2 });
  const traffic = await load(s.port, run);
  const r = await run;
  assert.ok(traffic.ok > 0, `the server answered (${traffic.ok} ok, ${traffic.failed} failed)`);
  assert.ok(r.data.listeners.length >= 1, 'its listener(s) were found');
  const errors = r.findings.filter((f) => f.severity === 'error');
  assert.deepEqual(errors.map((f) => `${f.code}: ${f.message}`), [], `all findings: ${codes(r.findings)}`);
});

test('nginx with reuseport under load: REUSEPORT_GROUP info and no error-level finding', async (t) => {
  const nginx = requireTool(t, 'nginx');
  if (!nginx) return;
  const dir = tempDir(t, 'doctor-nginx-');
  const port = await freePort();
  await startNginx(t, dir, port, {
    master: true,
    workers: 2,
    workerConnections: 512,
    http: `  server {
    listen 127.0.0.1:${port} reuseport;
    location / { return 200 "ok\\n"; }
  }`,
  });
  await sleep(200); // workers register their listeners after the master binds
  const run = runDoctor({ port, seconds: 2 });
  const traffic = await load(port, run);
  const r = await run;
  assert.ok(traffic.ok > 0, `nginx answered (${traffic.ok} ok, ${traffic.failed} failed)`);
  assert.equal(r.data.listeners.length, 2, 'one reuseport socket per worker');
  assert.ok(codes(r.findings).includes('REUSEPORT_GROUP:info'), codes(r.findings).join());
  assert.ok(!codes(r.findings).some((c) => c.startsWith('SHARED_')), codes(r.findings).join());
  const errors = r.findings.filter((f) => f.severity === 'error');
  assert.deepEqual(errors.map((f) => `${f.code}: ${f.message}`), [], `all findings: ${codes(r.findings)}`);
});
