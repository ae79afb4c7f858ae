/**
 * `edgeloop serve` as a process: the ready line, the demo routes, SIGTERM
 * draining to exit 0, clear errors for a busy port and bad flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../src/http/index.js';
import { runCli, startCli } from '../helpers.js';

const READY = /^listening on http:\/\/([^\s]+):(\d+) \((\d+) loops?, accept=(\w+), backlog=(\d+)\)$/m;

async function start(args: string[]) {
  const r = await startCli(['serve', ...args], READY);
  return { ...r, line: r.match[0], port: Number(r.match[2]) };
}

const run = (args: string[]) => runCli(['serve', ...args]);

test('edgeloop serve --loops 2: ready line, demo routes, SIGTERM drains and exits 0', async () => {
  const s = await start(['--port', '0', '--loops', '2', '--accept', 'reuseport']);
  try {
    assert.match(s.line, /^listening on http:\/\/127\.0\.0\.1:\d+ \(2 loops, accept=reuseport, backlog=\d+\)$/);
    const base = `http://127.0.0.1:${s.port}`;
    const hello = await fetch(`${base}/hello`);
    assert.equal(hello.headers.get('content-type'), 'text/plain');
    assert.equal(await hello.text(), 'hello');
    const echo = await fetch(`${base}/echo`, { method: 'POST', body: 'round trip', headers: { 'content-type': 'text/x-demo' } });
    assert.equal(echo.headers.get('content-type'), 'text/x-demo');
    assert.equal(await echo.text(), 'round trip');
    assert.equal((await fetch(`${base}/delay?ms=30`)).status, 200);
    assert.equal((await fetch(`${base}/delay?ms=abc`)).status, 400);
    const bytes = await fetch(`${base}/bytes?n=100000`);
    assert.equal((await bytes.arrayBuffer()).byteLength, 100000);
    const index = await fetch(`${base}/`);
    assert.match(index.headers.get('content-type')!, /^text\/html/);
    assert.match(await index.text(), /href="\/hello"/, 'the index links the routes for a browser');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/hello`, { method: 'POST', body: 'x' })).status, 405);
    const stats = (await (await fetch(`${base}/stats`)).json()) as { loops: number; stats: { requests: number; closed: object; acceptEmptyWakeups: number }[] };
    assert.equal(stats.loops, 2);
    assert.ok(stats.stats.length >= 2);
    for (const k of ['accepted', 'active', 'requests', 'closed', 'acceptEmptyWakeups']) assert.ok(k in stats.stats[0]!, k);
    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('edgeloop serve --loops 1: SIGINT drains and exits 0', async () => {
  const s = await start(['--port', '0', '--loops', '1']);
  try {
    assert.match(s.line, /\(1 loop, accept=reuseport, backlog=\d+\)$/, 'one loop, singular');
    assert.equal(await (await fetch(`http://127.0.0.1:${s.port}/hello`)).text(), 'hello');
    s.child.kill('SIGINT');
    assert.equal(await s.exit, 0);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('edgeloop serve on a busy port: EADDRINUSE message, exit 1, no stack trace', async () => {
  const busy = await serve({ port: 0, handler: (_q, r) => r.end() });
  try {
    const r = await run(['--port', String(busy.port), '--loops', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EADDRINUSE/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    await busy.stop();
  }
});

test('a second multi-loop server on the same port is refused (SO_REUSEPORT would share it)', async () => {
  const first = await start(['--port', '0', '--loops', '2']);
  try {
    const r = await run(['--port', String(first.port), '--loops', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EADDRINUSE/);
  } finally {
    first.child.kill('SIGKILL');
  }
});

test('edgeloop serve with bad flags: a clear usage error, exit 2', async () => {
  for (const args of [['--port', 'abc'], ['--port', '70000'], ['--accept', 'sideways'], ['--loops', '0'], ['--bogus']]) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^edgeloop serve: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /GET {2}\/hello/);
});
