import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs, type BenchOptions } from '../../src/bench/options.js';
import { UsageError } from '../../src/cli/args.js';
import { parseTarget } from '../../src/bench/target.js';
import { buildRequest } from '../../src/bench/request.js';

function opts(...argv: string[]): BenchOptions {
  const r = parseBenchArgs(argv);
  assert.equal(r.help, false);
  return (r as { options: BenchOptions }).options;
}

function rejects(argv: string[], re: RegExp): void {
  assert.throws(() => parseBenchArgs(argv), (e: unknown) => e instanceof UsageError && re.test(e.message), `${argv.join(' ')}`);
}

test('defaults: 10 connections, 1 thread, 10 s, GET, keep-alive', () => {
  const o = opts('http://127.0.0.1:8080/x?y=1');
  assert.equal(o.connections, 10);
  assert.equal(o.threads, 1);
  assert.equal(o.durationMs, 10_000);
  assert.equal(o.requests, undefined);
  assert.equal(o.method, 'GET');
  assert.equal(o.close, false);
  assert.equal(o.pipeline, 1);
  assert.equal(o.progress, false);
  assert.deepEqual(o.target, {
    scheme: 'http',
    host: '127.0.0.1',
    port: 8080,
    path: '/x?y=1',
    hostHeader: '127.0.0.1:8080',
    href: 'http://127.0.0.1:8080/x?y=1',
    tls: false,
  });
});

test('every option is parsed', () => {
  const o = opts(
    'http://localhost/',
    '-c', '8', '-n', '100', '-t', '2', '-m', 'POST', '-H', 'X-A: 1', '-H', 'x-b:two words ',
    '-b', 'hi', '--pipeline', '4', '--rate', '500', '--connect-timeout', '300', '--timeout', '0',
    '--grace', '50', '--json', '--html', 'out.html',
  );
  assert.equal(o.connections, 8);
  assert.equal(o.requests, 100);
  assert.equal(o.durationMs, undefined);
  assert.equal(o.threads, 2);
  assert.equal(o.method, 'POST');
  assert.deepEqual(o.headers, [
    ['X-A', '1'],
    ['x-b', 'two words'],
  ]);
  assert.deepEqual(Array.from(o.body!), Array.from(Buffer.from('hi')));
  assert.equal(o.pipeline, 4);
  assert.equal(o.rate, 500);
  assert.equal(o.connectTimeoutMs, 300);
  assert.equal(o.timeoutMs, 0);
  assert.equal(o.graceMs, 50);
  assert.equal(o.json, true);
  assert.equal(o.html, 'out.html');
  assert.equal(o.target.port, 80);
});

test('progress only on a TTY and never with --json', () => {
  assert.equal((parseBenchArgs(['http://h/'], { isTTY: true }) as { options: BenchOptions }).options.progress, true);
  assert.equal((parseBenchArgs(['http://h/', '--json'], { isTTY: true }) as { options: BenchOptions }).options.progress, false);
  assert.equal(
    (parseBenchArgs(['http://h/', '--no-progress'], { isTTY: true }) as { options: BenchOptions }).options.progress,
    false,
  );
});

test('durations: -d takes a bare number as seconds, the timeouts and --grace as milliseconds; all take units', () => {
  assert.equal(opts('http://h/', '-d', '10').durationMs, 10_000);
  assert.equal(opts('http://h/', '-d', '1.5s').durationMs, 1500);
  assert.equal(opts('http://h/', '-d', '250ms').durationMs, 250);
  assert.equal(opts('http://h/', '-d', '2m').durationMs, 120_000);
  rejects(['http://h/', '-d', 'soon'], /-d expects a duration like 500ms, 2s or 1m \(a bare number is seconds\), got 'soon'/);
  rejects(['http://h/', '-d', '0'], /-d must be from 1ms to 24h, got '0'/);
  const t = opts('http://h/', '--timeout', '2s', '--connect-timeout', '1.5s', '--grace', '1m');
  assert.equal(t.timeoutMs, 2000);
  assert.equal(t.connectTimeoutMs, 1500);
  assert.equal(t.graceMs, 60_000);
  const bare = opts('http://h/', '--timeout', '250', '--connect-timeout', '300', '--grace', '0');
  assert.equal(bare.timeoutMs, 250);
  assert.equal(bare.connectTimeoutMs, 300);
  assert.equal(bare.graceMs, 0);
  rejects(['http://h/', '--timeout', '2x'], /--timeout expects a duration .*a bare number is milliseconds.*'2x'/);
  rejects(['http://h/', '--timeout', '2h'], /--timeout must be from 0ms to 1h, got '2h'/);
});

test('bad arguments are rejected with a message naming the option', () => {
  rejects([], /missing URL/);
  rejects(['http://a/', 'http://b/'], /one URL/);
  rejects(['http://h/', '--cacert', '/dev/null'], /--cacert applies to https:\/\/ and wss:\/\/ URLs only/);
  rejects(['https://h/', '--cacert', '/nonexistent.pem'], /--cacert \/nonexistent\.pem: cannot read it \(ENOENT/);
  rejects(['https://h/', '--cacert', '/dev/null'], /--cacert \/dev\/null: no PEM certificate/);
  rejects(['https://h/', '--cacert', '/dev/null', '--insecure'], /either --insecure or --cacert/);
  rejects(['ftp://127.0.0.1/'], /unsupported URL scheme 'ftp'/);
  rejects(['http://[bad/'], /not a URL/);
  rejects(['http://h/', '-c', '0'], /-c must be from 1 to 100000, got '0'/);
  rejects(['http://h/', '-c', 'ten'], /-c must be a whole number, got 'ten'/);
  rejects(['http://h/', '-c', '0x10'], /-c must be a whole number, got '0x10'/);
  rejects(['http://h/', '-n', '1e3'], /-n must be a whole number, got '1e3'/);
  rejects(['http://h/', '-c', ''], /-c must be a whole number, got ''/);
  rejects(['http://h/', '-c', '2', '-t', '3'], /-t 3 is more than -c 2/);
  rejects(['http://h/', '-n', '10', '-d', '5'], /either -n .* or -d/);
  rejects(['http://h/', '-c', '20', '-n', '10'], /-c 20 is more than -n 10/);
  rejects(['http://h/', '-m', 'GE T'], /not a valid method/);
  rejects(['http://h/', '-H', 'novalue'], /-H expects 'Name: value'/);
  rejects(['http://h/', '-H', 'bad name: v'], /not a valid header name/);
  rejects(['http://h/', '-b', 'x', '--body-file', 'f'], /either -b or --body-file/);
  rejects(['http://h/', '--body-file', '/nonexistent/file'], /cannot read it \(ENOENT\)/);
  rejects(['http://h/', '--pipeline', '2', '--close'], /cannot be combined with --close/);
  rejects(['http://h/', '--rate=-5'], /--rate must be more than 0, got '-5'/);
  rejects(['http://h/', '--rate', '1e3'], /--rate must be a number, got '1e3'/);
  rejects(['http://h/', '--timeout', '1.5'], /--timeout must be a whole number of milliseconds, got '1.5'/);
  rejects(['http://h/', '--bogus'], /Unknown option '--bogus'/);
});

test('-n below the default -c: the default shrinks to -n, an explicit -c still has to fit', () => {
  // `-n 1` is the natural first try; refusing it over a -c the user never typed is a trap.
  const one = opts('http://h/', '-n', '1');
  assert.equal(one.connections, 1);
  assert.equal(one.requests, 1);
  assert.equal(opts('http://h/', '-n', '5').connections, 5);
  assert.equal(opts('http://h/', '-n', '1000').connections, 10);
  rejects(['http://h/', '-n', '1', '-t', '2'], /-t 2 is more than -n 1/);
});

test("-H 'Connection: close' is --close: the client may not send another request on that connection", () => {
  // RFC 9112 9.6: a client that sends "close" MUST NOT send further requests on the connection.
  // Reusing it anyway turns the server's (correct) close into "closed early" errors.
  const o = opts('http://h/', '-H', 'Connection: close');
  assert.equal(o.close, true);
  assert.equal(opts('http://h/', '-H', 'connection: Upgrade, CLOSE').close, true);
  assert.equal(opts('http://h/', '-H', 'Connection: keep-alive').close, false);
  const bytes = Buffer.from(buildRequest(o).single).toString('latin1');
  assert.equal(bytes.match(/connection:/gi)?.length, 1, bytes);
  rejects(['http://h/', '-H', 'Connection: close', '--pipeline', '4'], /--pipeline .*Connection: close/);
});

test('--help', () => {
  assert.deepEqual(parseBenchArgs(['--help']), { help: true });
  assert.deepEqual(parseBenchArgs(['-h']), { help: true });
});

test('a URL without a scheme is taken as http', () => {
  const t = parseTarget('127.0.0.1:9000/p');
  assert.equal(t.port, 9000);
  assert.equal(t.path, '/p');
  assert.equal(parseTarget('http://[::1]:81/').host, '::1');
});

test('request bytes: Host, body length, --close, pipelined batch, user headers win', () => {
  const o = opts('http://127.0.0.1:8080/p', '-m', 'POST', '-b', 'abc', '--pipeline', '3', '-H', 'User-Agent: me');
  const r = buildRequest(o);
  const s = Buffer.from(r.single).toString('latin1');
  assert.equal(
    s,
    'POST /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: me\r\nContent-Length: 3\r\n\r\nabc',
  );
  assert.equal(Buffer.from(r.batch).toString('latin1'), s + s + s);
  assert.equal(r.head, false);

  const c = buildRequest(opts('http://h:1/', '--close', '-m', 'HEAD', '-H', 'Host: other'));
  const cs = Buffer.from(c.single).toString('latin1');
  assert.match(cs, /^HEAD \/ HTTP\/1\.1\r\n/);
  assert.match(cs, /\r\nConnection: close\r\n\r\n$/);
  assert.match(cs, /\r\nHost: other\r\n/);
  assert.doesNotMatch(cs, /Host: h:1/);
  assert.equal(c.head, true);
});
