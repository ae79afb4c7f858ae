/**
 * The files in deploy/ run as written: HAProxy (PROXY v2, /healthz checks,
 * retries) in front of two edgeloop instances restarted in turn under load,
 * and, for reference, two nginx instances restarted the same way; nginx proxying with upstream
 * keep-alive and X-Forwarded-For, the systemd unit through systemd-analyze,
 * the Kubernetes manifests through a YAML parser.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve } from '../../src/http/index.js';
import { freePort, nginxTempPaths, requireTool, sleep, waitFor, within } from '../helpers.js';
import { loadSummary, startServe, wrk, type Serve, type WrkResult } from './support.js';
import { run, startDaemon, startNginx, tempDir } from './tools.js';

const deploy = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

async function waitHttp(url: string, want: (status: number) => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (want(r.status)) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${url} not ready within ${ms} ms`);
    await sleep(100);
  }
}

/** A server behind HAProxy: where it listens, and how it is restarted in place. */
interface Backend {
  readonly port: number;
  /** Stops it the way its operators do, waits until it is gone, starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `edgeloop serve --proxy-protocol` as deploy/haproxy.cfg says to run it; restarted with SIGTERM. */
async function edgeloopBackend(): Promise<Backend> {
  const flags = ['--loops', '1', '--proxy-protocol', '--drain-delay', '1s', '--stop-timeout', '3s'];
  let s: Serve = await startServe(['--port', '0', ...flags]);
  return {
    get port() {
      return s.port;
    },
    async restart() {
      s.child.kill('SIGTERM');
      assert.equal(await within(15_000, s.exit, 'edgeloop exit'), 0);
      s = await startServe(['--port', String(s.port), ...flags]);
    },
    async stop() {
      s.child.kill('SIGTERM');
      await within(10_000, s.exit, 'edgeloop exit');
    },
  };
}

/** nginx taking PROXY protocol, answering /healthz and /hello itself; restarted with `nginx -s quit`. */
async function nginxBackend(t: TestContext): Promise<Backend> {
  const dir = tempDir(t, 'edgeloop-nginx-');
  const port = await freePort();
  const conf = {
    master: true,
    http: `  server {
    listen 127.0.0.1:${port} proxy_protocol;
    location = /healthz { return 200 "ok\\n"; }
    location / { return 200 "hello"; }
  }`,
  };
  await startNginx(t, dir, port, conf);
  return {
    port,
    async restart() {
      const q = await run('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-s', 'quit']);
      assert.equal(q.code, 0, q.stderr);
      await waitFor(() => !fs.existsSync(path.join(dir, 'nginx.pid')), 10_000, 'nginx quit');
      await startNginx(t, dir, port, conf);
    },
    async stop() {}, // startNginx stops it after the test
  };
}

/** deploy/haproxy.cfg, as written, in front of a and b; wrk through it while each is restarted in turn. */
async function rollingRestart(t: TestContext, a: Backend, b: Backend, seconds: number): Promise<WrkResult> {
  const cfg = path.join(deploy, 'haproxy.cfg');
  const text = fs.readFileSync(cfg, 'utf8');
  for (const want of [/^\s*default-server .*\bsend-proxy-v2\b.*\bcheck\b/m, /^\s*option httpchk GET \/healthz$/m, /^\s*retries \d+$/m, /^\s*option redispatch/m]) {
    assert.match(text, want, 'deploy/haproxy.cfg: PROXY v2, health checks on /healthz, retries');
  }
  const front = await freePort();
  const env = { ...process.env, FRONT_BIND: `127.0.0.1:${front}`, EDGE_A: `127.0.0.1:${a.port}`, EDGE_B: `127.0.0.1:${b.port}` };
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { env, encoding: 'utf8' });
  assert.equal(check.status, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
  let log = '';
  const haproxy = await startDaemon(t, 'haproxy', ['-db', '-f', cfg], front, () => log, env);
  haproxy.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitHttp(`http://127.0.0.1:${front}/hello`, (s) => s === 200);
  const load = wrk(`http://127.0.0.1:${front}/hello`, seconds);
  await sleep(800);
  for (const backend of [a, b]) {
    await backend.restart();
    await sleep(1000); // HAProxy's check (rise 1, inter 200ms) brings it back
  }
  const r = await load;
  r.output += `\nhaproxy: ${log}`;
  return r;
}

test('HAProxy (deploy/haproxy.cfg: PROXY v2, /healthz checks, retries): two edgeloop instances restarted in turn under wrk: 0 failed', async (t) => {
  if (!requireTool(t, 'haproxy') || !requireTool(t, 'wrk')) return;
  const a = await edgeloopBackend();
  const b = await edgeloopBackend();
  try {
    const r = await rollingRestart(t, a, b, 8);
    t.diagnostic(`edgeloop rolling restart: ${loadSummary(r)}`);
    assert.ok(r.requests > 500, r.output);
    assert.equal(r.non2xx, 0, r.output);
    assert.equal(r.socketErrors, 0, r.output);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('reference: the same rolling restart with nginx instances (nginx -s quit) behind the same HAProxy config: 0 failed', async (t) => {
  if (!requireTool(t, 'haproxy') || !requireTool(t, 'wrk') || !requireTool(t, 'nginx')) return;
  const r = await rollingRestart(t, await nginxBackend(t), await nginxBackend(t), 5);
  t.diagnostic(`nginx rolling restart: ${loadSummary(r)}`);
  assert.ok(r.requests > 500, r.output);
  assert.equal(r.non2xx, 0, r.output);
  assert.equal(r.socketErrors, 0, r.output);
});

test('nginx (deploy/nginx.conf) proxying with upstream keep-alive: wrk 0 errors, X-Forwarded-For reaches the handler, connections reused', async (t) => {
  if (!requireTool(t, 'nginx') || !requireTool(t, 'wrk')) return;
  const server = await serve({
    port: 0,
    handler: (req, res) => res.end(`xff=${req.headers.get('x-forwarded-for') ?? '-'}`),
  });
  const front = await freePort();
  const dir = tempDir(t, 'edgeloop-nginx-');
  const conf = fs
    .readFileSync(path.join(deploy, 'nginx.conf'), 'utf8')
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${server.port};`)
    .replace('listen 127.0.0.1:8000;', `listen 127.0.0.1:${front};`)
    .replace('pid /run/nginx-edgeloop.pid;', `pid ${dir}/nginx.pid;`)
    .replace('worker_processes auto;', `worker_processes 1;\nerror_log ${dir}/error.log;`)
    .replace('http {', `http {\n${nginxTempPaths(dir)}`);
  assert.notEqual(conf.indexOf(String(server.port)), -1);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const errorLog = (): string => (fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : '');
  try {
    await startDaemon(t, 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], front, errorLog);
    await waitHttp(`http://127.0.0.1:${front}/`, (s) => s === 200);
    const body = await (await fetch(`http://127.0.0.1:${front}/`)).text();
    assert.equal(body, 'xff=127.0.0.1');
    const before = server.stats()[0]!.accepted;
    const r = await wrk(`http://127.0.0.1:${front}/`, 2);
    t.diagnostic(`through nginx (upstream keepalive): ${loadSummary(r)}`);
    assert.ok(r.requests > 500, r.output);
    assert.equal(r.non2xx, 0, r.output);
    assert.equal(r.socketErrors, 0, r.output);
    const accepted = server.stats()[0]!.accepted - before;
    assert.ok(accepted < r.requests / 10, `upstream keep-alive: ${accepted} connections for ${r.requests} requests`);
  } finally {
    await server.stop();
  }
});

test('systemd unit (deploy/edgeloop.service): systemd-analyze verify accepts it; reload is SIGHUP, stop is SIGTERM with room for the drain', async (t) => {
  const unit = fs.readFileSync(path.join(deploy, 'edgeloop.service'), 'utf8');
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  assert.match(unit, /^KillSignal=SIGTERM$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  const drain = Number(/--drain-delay (\d+)s/.exec(unit)?.[1]);
  const stop = Number(/--stop-timeout (\d+)s/.exec(unit)?.[1]);
  const timeoutStop = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
  assert.ok(timeoutStop > drain + stop, 'systemd waits out the drain and the stop timeout before SIGKILL');
  if (!requireTool(t, 'systemd-analyze')) return;
  // Verify the unit as written, with ExecStart pointing at this checkout (verify checks the binary exists).
  const dir = tempDir(t, 'edgeloop-unit-');
  const local = unit.replace('/usr/bin/node /opt/edgeloop/dist/src/cli/main.js', `${process.execPath} ${cli}`).replace(/^User=edgeloop$/m, 'User=root');
  fs.writeFileSync(path.join(dir, 'edgeloop.service'), local);
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(dir, 'edgeloop.service')], { encoding: 'utf8' });
  const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('edgeloop.service'));
  assert.deepEqual(complaints, [], r.stderr);
});

test('Kubernetes (deploy/kubernetes/deployment.yaml): parses; readiness on /healthz, preStop, grace period above drain + stop timeout', (t) => {
  const python = requireTool(t, 'python3-yaml');
  if (!python) return;
  const file = path.join(deploy, 'kubernetes', 'deployment.yaml');
  const r = spawnSync(python, ['-c', 'import sys, yaml, json; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const docs = JSON.parse(r.stdout) as { kind: string; spec: Record<string, unknown> }[];
  assert.deepEqual(docs.map((d) => d.kind), ['Deployment', 'Service']);
  const pod = (docs[0]!.spec as { template: { spec: { terminationGracePeriodSeconds: number; containers: Record<string, unknown>[] } } }).template.spec;
  const c = pod.containers[0] as { args: string[]; readinessProbe: { httpGet: { path: string } }; lifecycle: { preStop: unknown } };
  assert.equal(c.readinessProbe.httpGet.path, '/healthz');
  assert.ok(c.lifecycle.preStop);
  const arg = (name: string): number => Number(/^(\d+)s$/.exec(c.args[c.args.indexOf(name) + 1] ?? '')?.[1]);
  assert.ok(pod.terminationGracePeriodSeconds > arg('--drain-delay') + arg('--stop-timeout'));
  // The args are edgeloop's own: they parse.
  assert.equal(spawnSync(process.execPath, [cli, ...c.args, '--help'], { encoding: 'utf8' }).status, 0);
});
