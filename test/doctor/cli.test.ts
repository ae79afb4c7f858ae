/**
 * The CLI contract as scripts use it: with --json, stdout is always one JSON
 * document with target, listeners and findings (an `error` added on exit 2),
 * and numbers are read as plain decimals, never hex or exponents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runCli } from './helpers.js';
import { freePort } from '../helpers.js';

function parseDoc(stdout: string, what: string): Record<string, unknown> {
  let doc: unknown;
  assert.doesNotThrow(() => (doc = JSON.parse(stdout)), `${what}: stdout is JSON: ${JSON.stringify(stdout)}`);
  assert.ok(doc && typeof doc === 'object', what);
  const d = doc as Record<string, unknown>;
  assert.ok(d.target && typeof d.target === 'object', `${what}: target`);
  assert.deepEqual(d.listeners, [], `${what}: listeners is an empty array`);
  assert.deepEqual(d.findings, [], `${what}: findings is an empty array`);
  assert.equal(typeof d.error, 'string', `${what}: error says why`);
  return d;
}

test('--json on every exit-2 path prints { target, listeners, findings, error }', async () => {
  const port = await freePort();
  const cases: [string, string[], RegExp][] = [
    ['missing pid', ['--pid', String(2 ** 22 - 3), '--seconds', '0.1'], /no process with pid/],
    ['unused port', ['--port', String(port), '--seconds', '0.1'], /nothing listens on TCP port/],
    ['neither --port nor --pid', [], /exactly one of --port or --pid/],
    ['bad --seconds', ['--pid', '1', '--seconds', 'abc'], /--seconds/],
    ['unknown option', ['--pid', '1', '--bogus'], /bogus/],
  ];
  for (const [what, args, reason] of cases) {
    const r = await runCli(['doctor', ...args, '--json']);
    assert.equal(r.code, 2, `${what}: exit 2 (stderr: ${r.stderr})`);
    const d = parseDoc(r.stdout, what);
    assert.match(d.error as string, reason, what);
    assert.match(r.stderr, reason, `${what}: the reason is on stderr too`);
  }
});

test('numbers are plain decimals: hex, exponents, blanks and negatives are refused with the value', async () => {
  const bad: [string[], RegExp][] = [
    [['--pid', '1', '--seconds', '0x10'], /--seconds .*'0x10'/],
    [['--pid', '1', '--seconds', '1e-9'], /--seconds .*'1e-9'/],
    [['--pid', '1', '--seconds', '-1'], /--seconds .*'-1'/],
    [['--port', '0x50'], /--port .*'0x50'/],
    [['--port', ' 80'], /--port .*' 80'/],
    [['--port', '80.0'], /--port .*'80.0'/],
    [['--pid', '-5'], /--pid .*'-5'/],
  ];
  for (const [args, reason] of bad) {
    const r = await runCli(['doctor', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    assert.match(r.stderr, reason, `${args.join(' ')}: ${r.stderr.split('\n')[0]}`);
  }
});

test('the sample lasts --seconds: 0.5 s is not reported (and measured) as 0.4 s', async (t) => {
  const srv = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const r = await runCli(['doctor', '--port', String(port), '--seconds', '0.5', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { target: { seconds: number; samples: number } };
  assert.ok(doc.target.seconds >= 0.48, `sampled ${doc.target.seconds} s`);
  assert.ok(doc.target.seconds < 1.5, `sampled ${doc.target.seconds} s`);
});
