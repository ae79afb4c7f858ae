/**
 * `edgeloop echo` as a process: the contract's ready line, a round trip,
 * graceful stop on SIGINT/SIGTERM, and a one-line usage error (exit 2) for
 * every bad flag. Every child is killed if it outlives its test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundTrip, runCli, startCli, within } from '../helpers.js';

const READY = /^listening on (\S+):(\d+) \((\d+) loops?, accept=(\w+), backlog=(\d+)\)$/m;

const start = (args: string[]) => startCli(['echo', ...args], READY);
const run = (args: string[]) => runCli(['echo', ...args]);

test('edgeloop echo: ready line, echoes, stops gracefully on SIGTERM and SIGINT', async () => {
  for (const [args, signal] of [
    [['--port', '0', '--loops', '2', '--accept', 'dispatcher', '--backlog', '64'], 'SIGTERM'],
    [['--port', '0', '--loops', '1'], 'SIGINT'],
  ] as Array<[string[], NodeJS.Signals]>) {
    const { child, match, exit } = await start(args);
    try {
      const [, host, port, loops, accept, backlog] = match;
      assert.equal(host, '127.0.0.1');
      assert.equal(loops, args[3]);
      assert.equal(accept, args.includes('dispatcher') ? 'dispatcher' : 'reuseport');
      if (args.includes('--backlog')) assert.equal(backlog, '64');
      const got = await within(5000, roundTrip(Number(port), 'ping édgeloop'));
      assert.equal(got.toString(), 'ping édgeloop');
      child.kill(signal);
      assert.equal(await within(10_000, exit, `exit after ${signal}`), 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
});

test('edgeloop echo with bad flags: one clear line naming the flag, exit 2', async () => {
  for (const [args, says] of [
    [['--port', 'abc'], /--port must be a whole number, got 'abc'/],
    [['--port', '-1'], /--port must be from 0 to 65535, got '-1'/],
    [['-p', '-1'], /--port must be from 0 to 65535, got '-1'/],
    [['--port', '0x50'], /--port must be a whole number, got '0x50'/],
    [['--port', '0', '--loops', '0'], /--loops must be from 1 to 1024, got '0'/],
    [['--port', '0', '--accept', 'foo'], /--accept must be one of reuseport, exclusive, dispatcher, got 'foo'/],
    [['--port', '0', '--backlog', '-1'], /--backlog must be from 0 to \d+, got '-1'/],
    [['--port', '0', '--host', 'a b'], /--host must be an IP address or a host name, got 'a b'/],
    [['--port', '0', '--bogus'], /--bogus/],
    [[], /--port is required/],
  ] as const) {
    const r = await run([...args]);
    const what = args.join(' ');
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /^edgeloop echo: /, what);
    assert.match(r.stderr, says, what);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line, got:\n${r.stderr}`);
    assert.equal(r.stdout, '', what);
  }
});
