/**
 * /metrics: every loop's counters in the Prometheus text format, checked by
 * `promtool check metrics`, and moving under a bounded load.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { serve, type HttpServer } from '../../src/http/index.js';
import { request1 } from '../http/wire.js';
import { startCli } from '../helpers.js';
import { run } from './tools.js';
import { requireTool } from '../helpers.js';

type Samples = Map<string, number>;

/** `name{labels} value` lines into a map keyed by the line's name and labels as written. */
function parseText(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** The sum over loops of a metric whose other labels match `labels` (e.g. 'code="2xx"'). */
function total(s: Samples, name: string, labels = ''): number {
  let sum = 0;
  for (const [k, v] of s) {
    const brace = k.indexOf('{');
    const n = brace < 0 ? k : k.slice(0, brace);
    if (n === name && (labels === '' || k.includes(labels))) sum += v;
  }
  return sum;
}

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
  const r = await promtool(text);
  assert.equal(r.code, 0, `promtool check metrics:\n${r.out}\n${text}`);
  t.diagnostic(`promtool: ok (${text.split('\n').length} lines)`);
  return parseText(text);
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
    const d = total(after, name, labels) - total(before, name, labels);
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
  assert.ok(total(after, 'edgeloop_http_responses_total', 'code="2xx"') > 0);
  assert.ok(total(after, 'edgeloop_accepted_connections_total', 'loop="0"') > 0 && total(after, 'edgeloop_accepted_connections_total', 'loop="1"') > 0, 'both loops accepted');
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
    assert.ok(total(parseText(text), 'edgeloop_http_responses_total', 'code="2xx"') >= 3);
    const version = await run('promtool', ['--version']);
    t.diagnostic(version.stdout.split('\n')[0] ?? '');
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
});
