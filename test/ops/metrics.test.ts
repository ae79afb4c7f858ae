/**
 * /metrics: every loop's counters in the Prometheus text format, checked by
 * `promtool check metrics`, and moving under a bounded load: HTTP, TLS
 * handshakes (curl, openssl s_client) and WebSocket messages (the `ws` package).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { serve, type HttpServer } from '../../src/http/index.js';
import { request1 } from '../http/wire.js';
import WebSocket from 'ws';
import { execTool, requireTool, startCli, waitFor, within } from '../helpers.js';
import { testCerts } from '../tls/certs.js';
import { run } from './tools.js';
import { parseMetrics, sumMetric, type Samples } from './support.js';

async function scrape(port: number): Promise<{ text: string; type: string | undefined }> {
  const r = await request1(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 200);
  return { text: r.body.toString(), type: r.get('content-type') };
}

function promtool(text: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
    child.stdin.end(text);
  });
}

async function load(port: number, n: number, path = '/hello'): Promise<void> {
  for (let i = 0; i < n; i++) await request1(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
}

async function checked(t: TestContext, server: HttpServer): Promise<Samples> {
  const { text, type } = await scrape(server.port);
  assert.equal(type, 'text/plain; version=0.0.4; charset=utf-8');
  return promtoolChecked(t, text);
}

async function promtoolChecked(t: TestContext, text: string): Promise<Samples> {
  const r = await promtool(text);
  assert.equal(r.code, 0, `promtool check metrics:\n${r.out}\n${text}`);
  t.diagnostic(`promtool: ok (${text.split('\n').length} lines)`);
  return parseMetrics(text);
}

test('serve({ metrics }): promtool accepts the text; counters of both loops move under load', async (t) => {
  if (!requireTool(t, 'promtool')) return;
  const server = await serve({ port: 0, loops: 2, module: new URL('../../src/http/demo.js', import.meta.url), metrics: '/metrics' });
  t.after(() => server.stop());
  const before = await checked(t, server);
  for (const name of [
    'edgeloop_accepted_connections_total',
    'edgeloop_accept_empty_wakeups_total',
    'edgeloop_shed_connections_total',
    'edgeloop_open_connections',
    'edgeloop_received_bytes_total',
    'edgeloop_sent_bytes_total',
    'edgeloop_tls_handshakes_total',
    'edgeloop_websocket_messages_total',
  ]) {
    assert.ok([...before.keys()].some((k) => k.startsWith(`${name}{loop="1"`)), `${name} for loop 1`);
  }
  await load(server.port, 60);
  await load(server.port, 7, '/nope');
  const bad = await request1(server.port, 'GET / HTTP/1.1\r\n\r\n'); // no Host: 400 from the server itself
  assert.equal(bad.status, 400);
  const after = await checked(t, server);
  const grew = (name: string, by: number, labels = ''): void => {
    const d = sumMetric(after, name, labels) - sumMetric(before, name, labels);
    assert.ok(d >= by, `${name}${labels} grew by ${d}, expected at least ${by}`);
  };
  grew('edgeloop_accepted_connections_total', 68);
  grew('edgeloop_http_requests_total', 67);
  grew('edgeloop_http_responses_total', 61, 'code="2xx"'); // 60 + the first scrape
  grew('edgeloop_http_responses_total', 8, 'code="4xx"');
  grew('edgeloop_received_bytes_total', 68 * 30);
  grew('edgeloop_sent_bytes_total', 68 * 60);
  grew('edgeloop_closed_connections_total', 60, 'reason=');
  grew('edgeloop_http_request_duration_seconds_count', 69);
  // The histogram is cumulative and its +Inf bucket is its count, loop by loop.
  for (const loop of ['0', '1']) {
    const buckets = [...after].filter(([k]) => k.startsWith(`edgeloop_http_request_duration_seconds_bucket{loop="${loop}"`));
    assert.equal(buckets.length, 15);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]![1] >= buckets[i - 1]![1], `cumulative: ${buckets[i]![0]}`);
    assert.equal(buckets.at(-1)![1], after.get(`edgeloop_http_request_duration_seconds_count{loop="${loop}"}`));
  }
  assert.ok(sumMetric(after, 'edgeloop_http_responses_total', 'code="2xx"') > 0);
  assert.ok(sumMetric(after, 'edgeloop_accepted_connections_total', 'loop="0"') > 0 && sumMetric(after, 'edgeloop_accepted_connections_total', 'loop="1"') > 0, 'both loops accepted');
});

test('serve({ fetch, metrics }): the path is answered before the app; other methods get 405; bad paths refused', async () => {
  const server = await serve({ port: 0, metrics: '/m', fetch: () => new Response('app') });
  try {
    const m = await request1(server.port, 'GET /m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(m.body.toString(), /^# HELP edgeloop_/m);
    const head = await request1(server.port, 'HEAD /m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { head: [true] });
    assert.equal(head.status, 200);
    const post = await request1(server.port, 'POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.equal(post.status, 405);
    assert.equal(post.get('allow'), 'GET, HEAD');
    const app = await request1(server.port, 'GET /m/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(app.body.toString(), 'app');
  } finally {
    await server.stop();
  }
  for (const bad of ['metrics', '', '/a b', '/m?x=1']) {
    await assert.rejects(serve({ port: 0, metrics: bad, handler: (_q, r) => r.end() }), /metrics must be a path/);
  }
});

test('edgeloop serve: GET /metrics passes promtool', async (t) => {
  if (!requireTool(t, 'promtool')) return;
  const cli = await startCli(['serve', '--port', '0', '--loops', '1'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  try {
    const port = Number(cli.match[1]);
    await load(port, 3);
    const { text } = await scrape(port);
    const r = await promtool(text);
    assert.equal(r.code, 0, r.out);
    assert.ok(sumMetric(parseMetrics(text), 'edgeloop_http_responses_total', 'code="2xx"') >= 3);
    const version = await run('promtool', ['--version']);
    t.diagnostic(version.stdout.split('\n')[0] ?? '');
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
});

test('TLS handshakes (curl, openssl s_client) and WebSocket messages and open sockets (ws over wss) move in /metrics on both loops', async (t) => {
  if (!requireTool(t, 'promtool') || !requireTool(t, 'curl') || !requireTool(t, 'openssl')) return;
  const certs = testCerts();
  // dispatcher round-robin: consecutive connections alternate between the two loops
  const server = await serve({
    port: 0,
    loops: 2,
    accept: 'dispatcher',
    tls: { cert: certs.ecCert, key: certs.ecKey },
    module: new URL('./fixtures/upgrade-web-app.js', import.meta.url),
    metrics: '/metrics',
  });
  t.after(() => server.stop({ timeout: 500 }));
  const url = `https://127.0.0.1:${server.port}/metrics`;
  const scrapeTls = async (): Promise<Samples> => {
    const r = await execTool('curl', ['-sS', '--cacert', certs.caFile, url]);
    assert.equal(r.code, 0, r.stderr);
    return promtoolChecked(t, r.stdout);
  };
  const before = await scrapeTls();
  for (let i = 0; i < 4; i++) assert.equal((await execTool('curl', ['-sS', '-o', '/dev/null', '--cacert', certs.caFile, url])).code, 0);
  const s = await execTool('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', certs.caFile, '-verify_return_error'], '');
  assert.match(s.stdout, /Verify return code: 0/);
  // Two handshakes that fail: TLS 1.1 is below the server's minimum.
  for (let i = 0; i < 2; i++) assert.notEqual((await execTool('curl', ['-sS', '--tlsv1.1', '--tls-max', '1.1', '--cacert', certs.caFile, url])).code, 0);

  const sockets: WebSocket[] = [];
  for (let i = 0; i < 4; i++) {
    const ws = new WebSocket(`wss://127.0.0.1:${server.port}/`, { ca: certs.ca, perMessageDeflate: false });
    await within(5000, new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'wss open');
    sockets.push(ws);
  }
  let echoed = 0;
  for (const ws of sockets) ws.on('message', () => echoed++);
  for (const ws of sockets) for (let k = 0; k < 5; k++) ws.send(`m${k}`);
  await waitFor(() => echoed === 20, 5000, 'every echo');
  const during = await scrapeTls();
  const grew = (name: string, labels = ''): number => sumMetric(during, name, labels) - sumMetric(before, name, labels);
  // 4 curl + 1 openssl + 4 wss + this scrape; the first scrape's handshake was counted before it answered.
  assert.equal(grew('edgeloop_tls_handshakes_total'), 10);
  assert.equal(grew('edgeloop_tls_handshake_errors_total'), 2);
  assert.equal(grew('edgeloop_websocket_messages_total', 'direction="in"'), 20);
  assert.equal(grew('edgeloop_websocket_messages_total', 'direction="out"'), 20);
  assert.equal(sumMetric(during, 'edgeloop_websocket_open_connections'), 4);
  for (const loop of ['0', '1']) {
    assert.ok(sumMetric(during, 'edgeloop_websocket_messages_total', `loop="${loop}",direction="in"`) > 0, `loop ${loop} counted messages`);
    assert.ok(sumMetric(during, 'edgeloop_tls_handshakes_total', `loop="${loop}"`) > 0, `loop ${loop} counted handshakes`);
  }
  const closes = sockets.map((ws) => within(5000, new Promise((resolve) => ws.once('close', resolve)), 'ws close'));
  for (const ws of sockets) ws.close();
  await Promise.all(closes);
  let after = await scrapeTls();
  for (let i = 0; i < 20 && sumMetric(after, 'edgeloop_websocket_open_connections') !== 0; i++) after = await scrapeTls();
  assert.equal(sumMetric(after, 'edgeloop_websocket_open_connections'), 0, 'the gauge falls back when the sockets close');
});
