/**
 * The one argument layer: every command's numbers, durations, sizes, ports
 * and hosts follow the same strict rules and the same message shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  flag,
  flagHelp,
  parseDuration,
  parseFlags,
  parseHost,
  parseInteger,
  parseOutputFile,
  parsePort,
  parseSize,
  UsageError,
} from '../../src/cli/args.js';

const refused = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'));

test('integers are plain decimals: no hex, exponent, blank, sign or fraction', () => {
  assert.equal(parseInteger('--n', '42'), 42);
  assert.equal(parseInteger('--n', '0'), 0);
  for (const bad of ['0x10', '1e3', '', ' 8', '8 ', '+8', '8.0', 'ten', '0b1', '١٢']) {
    refused(() => parseInteger('--n', bad), new RegExp(`^--n must be a whole number, got '${bad.replace(/[.+]/g, '\\$&')}'$`));
  }
  refused(() => parseInteger('--n', '-1'), /^--n must be from 0 to \d+, got '-1'$/);
  refused(() => parseInteger('--n', '11', { min: 1, max: 10 }), /^--n must be from 1 to 10, got '11'$/);
});

test('durations: ms, s, m, h; a bare number in the unit the flag names; whole milliseconds', () => {
  const ms = (raw: string) => parseDuration('--t', raw, { bare: 'ms', min: 0 });
  const s = (raw: string) => parseDuration('-d', raw, { bare: 's' });
  assert.equal(ms('500'), 500);
  assert.equal(ms('500ms'), 500);
  assert.equal(ms('2s'), 2000);
  assert.equal(ms('1.5s'), 1500);
  assert.equal(ms('1m'), 60_000);
  assert.equal(ms('1h'), 3_600_000);
  assert.equal(ms('0'), 0);
  assert.equal(s('10'), 10_000);
  assert.equal(s('.5'), 500);
  for (const bad of ['', '2 s', '2S', '2sec', '0x10', '1e3', '-1', '2s ', 's']) {
    refused(() => ms(bad), /^--t expects a duration like 500ms, 2s or 1m \(a bare number is milliseconds\), got '.*'$/);
  }
  refused(() => ms('1.5'), /^--t must be a whole number of milliseconds, got '1.5'$/);
  refused(() => s('0'), /^-d must be from 1ms to 24h, got '0'$/);
  refused(() => parseDuration('--t', '2m', { bare: 's', max: 60_000 }), /^--t must be from 1ms to 1m, got '2m'$/);
});

test('sizes: binary units in any case; a bare number is bytes; whole bytes', () => {
  const size = (raw: string) => parseSize('--max', raw);
  assert.equal(size('512'), 512);
  assert.equal(size('16k'), 16384);
  assert.equal(size('16K'), 16384);
  assert.equal(size('64KiB'), 65536);
  assert.equal(size('1m'), 1024 ** 2);
  assert.equal(size('1.5MB'), 1.5 * 1024 ** 2);
  assert.equal(size('1g'), 1024 ** 3);
  assert.equal(size('10b'), 10);
  for (const bad of ['', '16 k', '0x10', '1e3', '-1', '16kk', 'k']) {
    refused(() => size(bad), /^--max expects a size like 512, 16k, 64KiB or 1m \(a bare number is bytes\), got '.*'$/);
  }
  refused(() => size('0.5'), /^--max must be a whole number of bytes, got '0.5'$/);
  refused(() => parseSize('--max', '2k', { min: 1, max: 1024 }), /^--max must be from 1 to 1024, got '2k'$/);
});

test('ports and hosts', () => {
  assert.equal(parsePort('--port', '0'), 0);
  assert.equal(parsePort('--port', '65535'), 65535);
  refused(() => parsePort('--port', '65536'), /^--port must be from 0 to 65535, got '65536'$/);
  refused(() => parsePort('--port', '0', { min: 1 }), /^--port must be from 1 to 65535, got '0'$/);
  assert.equal(parseHost('--host', '127.0.0.1'), '127.0.0.1');
  assert.equal(parseHost('--host', '::'), '::');
  assert.equal(parseHost('--host', '[::1]'), '::1');
  assert.equal(parseHost('--host', 'localhost'), 'localhost');
  assert.equal(parseHost('--host', 'db-1.example.com.'), 'db-1.example.com.');
  for (const bad of ['', 'a b', 'http://x', '-x', '[localhost]', 'x..y', '1.2.3.4:80']) {
    refused(() => parseHost('--host', bad), /^--host must be an IP address or a host name, got '.*'$/);
  }
});

test('output files are checked before any work: missing directory, a directory, fine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-args-'));
  try {
    assert.equal(parseOutputFile('--html', path.join(dir, 'r.html')), path.join(dir, 'r.html'));
    refused(() => parseOutputFile('--html', path.join(dir, 'nope', 'r.html')), /^--html .*r\.html: directory .*nope does not exist \(ENOENT\)$/);
    refused(() => parseOutputFile('--html', dir), /is a directory$/);
    refused(() => parseOutputFile('--html', ' '), /^--html expects a file name$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a flag table: typed values, labels, negative values reach the range check, one-line parse errors', () => {
  const FLAGS = {
    port: flag.port({ short: 'p', help: 'port' }),
    wait: flag.duration({ bare: 'ms', help: 'how long' }),
    size: flag.size({ label: '-s', short: 's' }),
    header: flag.list((raw) => raw.toUpperCase(), { short: 'H' }),
    verbose: flag.bool({ short: 'v', help: 'more' }),
  };
  const { values, positionals } = parseFlags(['-p', '80', '--wait', '2s', '-s', '1k', '-H', 'a', '-H', 'b', '-v', 'x'], FLAGS, {
    positionals: true,
  });
  assert.deepEqual(values, { port: 80, wait: 2000, size: 1024, header: ['A', 'B'], verbose: true });
  assert.deepEqual(positionals, ['x']);
  const none = parseFlags([], FLAGS).values;
  assert.deepEqual(none, { port: undefined, wait: undefined, size: undefined, header: [], verbose: undefined });
  refused(() => parseFlags(['--port', '-1'], FLAGS), /^--port must be from 0 to 65535, got '-1'$/);
  refused(() => parseFlags(['-s', 'x'], FLAGS), /^-s expects a size/);
  refused(() => parseFlags(['--bogus'], FLAGS), /^Unknown option '--bogus'$/);
  refused(() => parseFlags(['--port'], FLAGS), /^Option '-p, --port <value>' argument missing$/);
  refused(() => parseFlags(['stray'], FLAGS), /Unexpected argument 'stray'/);
  assert.equal(flagHelp(FLAGS), ['  -p, --port P   port', '      --wait T   how long', '  -v, --verbose  more'].join('\n'));
});
