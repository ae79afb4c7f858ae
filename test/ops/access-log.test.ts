/**
 * The access log: common, combined and JSON lines, written once per loop
 * turn; whole lines from several loop threads; standard output from the CLI;
 * bad options and unwritable files refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { serve } from '../../src/http/index.js';
import { exchange, request1 } from '../http/wire.js';
import { runCli, startCli, waitFor } from '../helpers.js';
import { tempDir } from './tools.js';

const CLF = /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(.*)" (\d{3}) (\d+|-)(.*)$/;

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

test('common log format: one line per response, the server\'s own errors too, flushed at stop', async (t) => {
  const file = path.join(tempDir(t, 'edgeloop-alog-'), 'access.log');
  const server = await serve({
    port: 0,
    accessLog: file,
    handler(req, res) {
      if (req.path === '/missing') res.status(404).end('nope\n');
      else res.end('hello');
    },
  });
  // Three pipelined requests in one write: one batch, one write() to the log.
  await exchange(server.port, 'GET /a?x=%22q%22 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.0\r\n\r\n', { head: [false, true, false] });
  await request1(server.port, 'GET /a"b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await request1(server.port, 'GET / HTTP/1.1\r\n\r\n'); // no Host: 400, logged without a request line
  await server.stop();
  const got = lines(file).map((l) => {
    const m = CLF.exec(l);
    assert.ok(m, l);
    return [m[1], m[2], m[3], m[4]];
  });
  assert.deepEqual(got, [
    ['GET /a?x=%22q%22 HTTP/1.1', '200', '5', ''],
    ['HEAD /b HTTP/1.1', '200', '-', ''],
    ['GET /missing HTTP/1.0', '404', '5', ''],
    ['GET /a\\"b HTTP/1.1', '200', '5', ''],
    ['-', '400', '16', ''],
  ]);
});

test('combined and JSON formats: referer and agent quoted and escaped; JSON lines parse', async (t) => {
  const dir = tempDir(t, 'edgeloop-alog-');
  for (const format of ['combined', 'json'] as const) {
    const file = path.join(dir, `${format}.log`);
    const server = await serve({ port: 0, accessLog: { path: file, format }, handler: (_req, res) => res.end('hi') });
    await request1(server.port, 'POST /p HTTP/1.1\r\nHost: x\r\nReferer: http://r/"x"\r\nUser-Agent: ag\\ent \xe9\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab');
    await server.stop();
    const [line, ...rest] = lines(file);
    assert.equal(rest.length, 0);
    if (format === 'combined') {
      const m = CLF.exec(line!);
      assert.ok(m, line);
      assert.deepEqual([m[1], m[2], m[3], m[4]], ['POST /p HTTP/1.1', '200', '2', ' "http://r/\\"x\\"" "ag\\\\ent \\xe9"']);
    } else {
      const o = JSON.parse(line!) as Record<string, unknown>;
      assert.equal(typeof o.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(o.time as string)));
      assert.equal(typeof o.ms, 'number');
      delete o.time;
      delete o.ms;
      assert.deepEqual(o, { remote: '127.0.0.1', method: 'POST', url: '/p', version: 'HTTP/1.1', status: 200, bytes: 2, referer: 'http://r/"x"', agent: 'ag\\ent \xe9' });
    }
  }
});

test('two loop threads appending to one file: every line whole, none lost', async (t) => {
  const file = path.join(tempDir(t, 'edgeloop-alog-'), 'access.log');
  const server = await serve({ port: 0, loops: 2, module: new URL('../../src/http/demo.js', import.meta.url), accessLog: file });
  const n = 200;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < n / 8; i++) await request1(server.port, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    }),
  );
  await server.stop();
  const all = lines(file);
  assert.equal(all.length, n);
  for (const l of all) assert.match(l, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/hello HTTP\/1\.1" 200 5$/);
  assert.deepEqual(server.stats().map((s) => s.requests).reduce((a, b) => a + b), n);
});

test('edgeloop serve --access-log: bare means standard output; --access-log-format json; bad flags exit 2, unwritable files 1', async (t) => {
  const cli = await startCli(['serve', '--port', '0', '--loops', '1', '--access-log', '--access-log-format', 'json'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  let out = '';
  cli.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const port = Number(cli.match[1]);
    await request1(port, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await waitFor(() => out.includes('"url":"/hello"'), 5000, 'the access log line on stdout');
    const o = JSON.parse(out.split('\n').find((l) => l.includes('/hello'))!) as { status: number; remote: string };
    assert.equal(o.status, 200);
    assert.equal(o.remote, '127.0.0.1');
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
  const orphan = await runCli(['serve', '--port', '0', '--access-log-format', 'json']);
  assert.equal(orphan.code, 2);
  assert.match(orphan.stderr, /--access-log-format needs --access-log/);
  const badFormat = await runCli(['serve', '--port', '0', '--access-log', '-', '--access-log-format', 'xml']);
  assert.equal(badFormat.code, 2);
  const dir = tempDir(t, 'edgeloop-alog-');
  const nowhere = await runCli(['serve', '--port', '0', '--loops', '1', '--access-log', path.join(dir, 'no', 'such', 'dir', 'a.log')]);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /ENOENT/);
});

test('accessLog options are checked', async () => {
  for (const bad of ['', { path: '' }, { path: 'x', format: 'xml' }]) {
    await assert.rejects(serve({ port: 0, accessLog: bad as never, handler: (_q, r) => r.end() }), /accessLog/);
  }
});

test('a log target that fails (ENOSPC from /dev/full) is reported through onError; requests are still answered', async (t) => {
  if (!fs.existsSync('/dev/full')) return t.skip('no /dev/full here');
  const errors: NodeJS.ErrnoException[] = [];
  const server = await serve({ port: 0, accessLog: '/dev/full', onError: (e) => errors.push(e as NodeJS.ErrnoException), handler: (_q, r) => r.end('ok') });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await request1(server.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(res.status, 200);
    }
    await waitFor(() => errors.length > 0, 5000, 'the failed log write reported (its flush is at most 50 ms away)');
  } finally {
    await server.stop();
  }
  assert.equal(errors[0]!.code, 'ENOSPC');
});

test('standard output that nobody reads (a full pipe) blocks no request; the waiting lines arrive once it is read again', async () => {
  const cli = await startCli(['serve', '--port', '0', '--loops', '1', '--access-log'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  const port = Number(cli.match[1]);
  const total = 4000; // ~70 bytes a line: far more than the pipe and the reader's buffer hold, well under the 1 MiB kept
  try {
    cli.child.stdout!.pause();
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    let answered = 0;
    let tail = '';
    sock.on('data', (d: Buffer) => {
      const s = tail + d.toString('latin1');
      answered += s.split('HTTP/1.1 200 ').length - 1;
      tail = s.slice(-12); // shorter than the pattern: a match is never counted twice
    });
    const batch = 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100);
    for (let sent = 0; sent < total; sent += 100) {
      sock.write(batch);
      await waitFor(() => answered >= sent + 100, 10_000, `responses ${sent + 1}..${sent + 100} while stdout is not read`);
    }
    sock.destroy();
    let lines = 0;
    let rest = '';
    cli.child.stdout!.on('data', (d: Buffer) => {
      const all = (rest + d.toString()).split('\n');
      rest = all.pop()!; // a line not yet complete
      lines += all.filter((l) => l.includes('"GET /hello HTTP/1.1" 200')).length;
    });
    cli.child.stdout!.resume();
    await waitFor(() => lines >= total, 15_000, `all ${total} log lines once stdout is read (got ${lines})`);
    assert.equal(lines, total);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exit;
  }
});
