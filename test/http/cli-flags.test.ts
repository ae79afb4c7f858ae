/**
 * `edgeloop serve`'s timeout and limit flags, as users run them: each family
 * against one server process, bad values as one-line usage errors (exit 2),
 * $PORT, and --help listing every flag. Every child is killed after its test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runCli, startCli, within } from '../helpers.js';
import { exchange, expectErrorAndClose, request1 } from './wire.js';

const READY = /^listening on http:\/\/[^\s]+:(\d+) \(/m;

async function start(args: string[], env: Record<string, string> = {}) {
  const r = await startCli(['serve', '--loops', '1', ...args], READY, 15_000, env);
  return { ...r, port: Number(r.match[1]) };
}

const GET = (path = '/hello', extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

test('limits: --max-request-line, --max-header-size, --max-headers, --max-body, --max-chunk-extension, --max-requests-per-connection', async () => {
  const s = await start([
    '--port', '0', '--max-request-line', '64', '--max-header-size', '1k', '--max-headers', '4', '--max-body', '10',
    '--max-chunk-extension', '16', '--max-requests-per-connection', '2',
  ]);
  try {
    await expectErrorAndClose(s.port, GET(`/${'a'.repeat(100)}`), 414);
    assert.equal((await request1(s.port, GET(`/${'a'.repeat(30)}`))).status, 404, 'a line under the limit is parsed');
    await expectErrorAndClose(s.port, GET('/hello', `X-Big: ${'b'.repeat(2000)}\r\n`), 431);
    await expectErrorAndClose(s.port, GET('/hello', 'A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n'), 431);
    assert.equal((await request1(s.port, GET('/hello', 'A: 1\r\nB: 2\r\n'))).status, 200);
    await expectErrorAndClose(s.port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world', 413);
    const ok = await request1(s.port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhelloworld');
    assert.equal(ok.body.toString(), 'helloworld');
    await expectErrorAndClose(s.port, `POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=${'e'.repeat(20)}\r\nhello\r\n0\r\n\r\n`, 400);
    // Two requests per connection: the second answer says so and the server closes.
    const two = await exchange(s.port, GET() + GET() + GET(), { timeout: 5000 });
    assert.equal(two.responses.length, 2);
    assert.equal(two.responses[1]?.get('connection'), 'close');
    assert.ok(two.closed);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('timeouts: --headers-timeout, --body-timeout, --request-timeout give 408, --keep-alive-timeout and --send-timeout close', async () => {
  // Defaults are 30 s, 30 s, 300 s, 5 s and 60 s: within these bounded waits only the flags can act.
  const s = await start([
    '--port', '0', '--headers-timeout', '300ms', '--body-timeout', '0.3s', '--request-timeout', '1500ms', '--keep-alive-timeout', '300',
    '--send-timeout', '500ms',
  ]);
  try {
    // A handler that takes 20 s: the whole exchange is cut at --request-timeout.
    const slow = await exchange(s.port, GET('/delay?ms=20000'), { timeout: 6000 });
    assert.equal(slow.responses[0]?.status, 408, 'request timeout');
    const head = await exchange(s.port, 'GET /hello HTTP/1.1\r\nHost: t\r\n', { timeout: 4000 });
    assert.equal(head.responses[0]?.status, 408, 'headers timeout');
    const body = await exchange(s.port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab', { timeout: 4000 });
    assert.equal(body.responses[0]?.status, 408, 'body timeout');
    const idle = await exchange(s.port, GET(), { timeout: 3000 });
    assert.equal(idle.responses[0]?.status, 200);
    assert.ok(idle.closed, 'an idle keep-alive connection is closed after --keep-alive-timeout');
    // A client that asks for 64 MiB and reads nothing: the server gives up on it and closes.
    const sock = net.connect({ port: s.port, host: '127.0.0.1' });
    sock.on('error', () => undefined);
    sock.pause();
    sock.write(GET(`/bytes?n=${64 * 1024 * 1024}`));
    await new Promise((r) => setTimeout(r, 1500));
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    sock.resume();
    await within(20_000, new Promise((r) => sock.once('close', r)), 'the server closes a client that stopped reading');
    assert.ok(got < 64 * 1024 * 1024, `received ${got} bytes: the response was cut off`);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('--stop-timeout: SIGTERM with a request in flight exits after T, not after the default 5 s', async () => {
  const s = await start(['--port', '0', '--stop-timeout', '200ms']);
  try {
    const pending = exchange(s.port, GET('/delay?ms=20000'), { timeout: 8000 });
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGTERM');
    assert.equal(await within(4000, s.exit, 'exit after --stop-timeout'), 0);
    assert.ok((await pending).closed);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('bad timeout and limit values: one line naming the flag, exit 2', async () => {
  const bad: [string[], RegExp][] = [
    [['--headers-timeout', '5 s'], /--headers-timeout expects a duration like 500ms, 2s or 1m \(a bare number is milliseconds\), got '5 s'/],
    [['--keep-alive-timeout', '0'], /--keep-alive-timeout must be from 1ms to 24h, got '0'/],
    [['--send-timeout', '1e3'], /--send-timeout expects a duration .*'1e3'/],
    [['--body-timeout', '-1s'], /--body-timeout expects a duration .*'-1s'/],
    [['--request-timeout', '1.5'], /--request-timeout must be a whole number of milliseconds, got '1.5'/],
    [['--max-body', '16q'], /--max-body expects a size like 512, 16k, 64KiB or 1m \(a bare number is bytes\), got '16q'/],
    [['--max-header-size', '0'], /--max-header-size must be from 1 to \d+, got '0'/],
    [['--max-headers', '0x10'], /--max-headers must be a whole number, got '0x10'/],
    [['--write-high-water-mark', '512'], /--write-high-water-mark must be from 1024 to \d+, got '512'/],
    [['--max-requests-per-connection', '-1'], /--max-requests-per-connection must be from 0 to \d+, got '-1'/],
    [['--max-request-line'], /--max-request-line <value>' argument missing/],
  ];
  for (const [args, says] of bad) {
    const r = await runCli(['serve', '--port', '0', ...args]);
    const what = args.join(' ');
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /^edgeloop serve: /, what);
    assert.match(r.stderr, says, what);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line, got:\n${r.stderr}`);
  }
});

test('$PORT is used when --port is absent; --port wins; a bad PORT is a usage error', async () => {
  const env = await start([], { PORT: '0' });
  try {
    assert.notEqual(env.port, 8080, 'PORT=0 picked a free port instead of the default 8080');
    assert.equal((await request1(env.port, GET())).status, 200);
  } finally {
    env.child.kill('SIGKILL');
  }
  const flag = await start(['--port', '0'], { PORT: 'not-a-port' });
  flag.child.kill('SIGKILL');
  const bad = await runCli(['serve'], 10_000, { PORT: '80x' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^edgeloop serve: PORT must be a whole number, got '80x'/);
});

test('--help lists every flag, shows --port as optional, and names the units', async () => {
  const r = await runCli(['serve', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: edgeloop serve \[--port P\]/);
  for (const f of [
    '--port', '--host', '--loops', '--accept', '--backlog', '--headers-timeout', '--request-timeout', '--body-timeout', '--keep-alive-timeout',
    '--send-timeout', '--stop-timeout', '--max-request-line', '--max-header-size', '--max-headers', '--max-body',
    '--max-chunk-extension', '--max-requests-per-connection', '--write-high-water-mark',
  ]) {
    assert.match(r.stdout, new RegExp(`^ {2}(-\\w, | {4})${f} `, 'm'), f);
  }
  assert.match(r.stdout, /default 16m/);
  assert.match(r.stdout, /a bare number is milliseconds/);
});
