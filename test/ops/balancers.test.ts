/**
 * edgeloop behind real balancers on loopback: HAProxy sending PROXY protocol
 * v2 and v1 (with its health checks, which v2 sends as LOCAL) and nginx
 * proxy_pass with upstream keepalive and X-Forwarded-For believed through
 * `trustProxy`. Each under a short, bounded wrk load: 0 errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { serve, type HttpServer } from '../../src/http/index.js';
import { freePort, waitFor, within } from '../helpers.js';
import { run, startDaemon, startNginx, tempDir } from './tools.js';
import { requireTool } from '../helpers.js';

/** GET path over a fresh connection; resolves with the client's own port and the body. */
function get(port: number, pathname: string, extra = ''): Promise<{ clientPort: number; status: number; body: string }> {
  return within(
    10_000,
    new Promise((resolve, reject) => {
      let clientPort = 0;
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        clientPort = s.localPort!;
        s.write(`GET ${pathname} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
      });
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('error', reject);
      s.on('close', () => {
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1] ?? 0);
        resolve({ clientPort, status, body: out.slice(out.indexOf('\r\n\r\n') + 4) });
      });
    }),
    `GET ${pathname}`,
  );
}

async function app(opts: { proxyProtocol?: boolean; trustProxy?: string[] }): Promise<HttpServer> {
  return serve({
    port: 0,
    ...opts,
    handler(req, res) {
      res.setHeader('Content-Type', 'text/plain');
      if (req.path === '/ip') res.end(`${req.remoteAddress} ${req.remotePort}`);
      else res.end('ok');
    },
  });
}

function wrkErrors(out: string): string | undefined {
  return /Non-2xx|Socket errors/.test(out) || !/requests in/.test(out) ? out : undefined;
}

test('HAProxy send-proxy-v2 and send-proxy: req.remoteAddress/remotePort are the client\'s; health checks served; wrk: 0 errors', async (t) => {
  if (!requireTool(t, 'haproxy') || !requireTool(t, 'wrk')) return;
  const server = await app({ proxyProtocol: true });
  t.after(() => server.stop());
  const dir = tempDir(t, 'edgeloop-haproxy-');
  const v2Port = await freePort();
  const v1Port = await freePort();
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    `global
  maxconn 512
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v2
  bind 127.0.0.1:${v2Port}
  default_backend v2
frontend v1
  bind 127.0.0.1:${v1Port}
  default_backend v1
backend v2
  option httpchk GET /hello
  server edge 127.0.0.1:${server.port} send-proxy-v2 check inter 100ms
backend v1
  server edge 127.0.0.1:${server.port} send-proxy
`,
  );
  const check = await run('haproxy', ['-c', '-f', cfg]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  await startDaemon(t, 'haproxy', ['-db', '-f', cfg], v2Port, () => '');
  for (const port of [v2Port, v1Port]) {
    const r = await get(port, '/ip');
    assert.equal(r.status, 200);
    assert.equal(r.body, `127.0.0.1 ${r.clientPort}`, 'the client\'s own port, not HAProxy\'s');
  }
  // Health checks arrive as LOCAL connections (every 100 ms) and are served.
  const before = server.stats()[0]!.requests;
  await waitFor(() => server.stats()[0]!.requests >= before + 3, 5000, 'health checks');
  const w = await run('wrk', ['-t1', '-c16', '-d1s', `http://127.0.0.1:${v2Port}/hello`], 30_000);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(wrkErrors(w.stdout), undefined);
  const st = server.stats()[0]!;
  assert.equal(st.proxyRejected, 0, 'every connection from HAProxy had a valid header');
  assert.equal(st.closed.error, 0);
});

test('nginx proxy_pass with upstream keepalive: X-Forwarded-For believed from the trusted proxy only; wrk: 0 errors', async (t) => {
  if (!requireTool(t, 'nginx') || !requireTool(t, 'wrk')) return;
  // nginx connects from 127.0.0.2 (proxy_bind): the only trusted address, so the client on
  // 127.0.0.1 is told apart from the proxy.
  const server = await app({ trustProxy: ['127.0.0.2'] });
  t.after(() => server.stop());
  const dir = tempDir(t, 'edgeloop-nginx-');
  const port = await freePort();
  const log = await startNginx(t, dir, port, {
    http: `  upstream edgeloop {
    server 127.0.0.1:${server.port};
    keepalive 16;
    keepalive_requests 1000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://edgeloop;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_bind 127.0.0.2;
    }
  }`,
  });
  const viaNginx = await get(port, '/ip');
  assert.equal(viaNginx.status, 200, log());
  assert.equal(viaNginx.body, '127.0.0.1 0', 'the client, from X-Forwarded-For (which has no port)');
  const spoofed = await get(port, '/ip', 'X-Forwarded-For: 6.6.6.6\r\n');
  assert.equal(spoofed.body, '127.0.0.1 0', 'the client cannot name itself: 127.0.0.1 is not a trusted hop');
  const direct = await get(server.port, '/ip', 'X-Forwarded-For: 6.6.6.6\r\n');
  assert.equal(direct.body, `127.0.0.1 ${direct.clientPort}`, 'straight to edgeloop: the header is ignored');
  const accepted = server.stats()[0]!.accepted;
  const w = await run('wrk', ['-t1', '-c16', '-d1s', `http://127.0.0.1:${port}/hello`], 30_000);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(wrkErrors(w.stdout), undefined, log());
  const st = server.stats()[0]!;
  const served = Number(/(\d+) requests in/.exec(w.stdout)?.[1]);
  t.diagnostic(`through nginx (proxy_pass, upstream keepalive): ${served} requests, ${wrkErrors(w.stdout) === undefined ? 'no errors' : 'errors'}`);
  // nginx retires an upstream connection after keepalive_requests (set above; 1000 is the default
  // since 1.19.10) and opens a fresh one, so a faster run opens more: one per 1000 requests, on top
  // of the 16 kept and the 16 wrk's end may cost.
  const allowed = 32 + Math.ceil(served / 1000);
  assert.ok(st.accepted - accepted <= allowed, `upstream keepalive reuses connections: ${st.accepted - accepted} accepted for ${served} requests (at most ${allowed})`);
  // When wrk's time is up it drops its 16 connections; nginx then abandons the requests those
  // had in flight and closes (or resets) their upstream connections: at most one each.
  assert.ok(st.closed.error + st.closed.reset <= 16, `upstream connections ended by an error or a reset: ${st.closed.error + st.closed.reset}`);
});
