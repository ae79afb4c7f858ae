/**
 * The tools tests drive: a missing one skips a test outside CI and fails it
 * under CI=true, and .ci/run installs every one that test/helpers.ts lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TOOLS, fixture, within } from '../helpers.js';

function runNeedsTool(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return within(60_000, new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', fileURLToPath(fixture('needsTool.js'))], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  }), 'the fixture test run');
}

test('a missing tool skips the test with the reason outside CI and fails it under CI=true', async () => {
  // No PATH: wrk cannot be found, whatever is installed here.
  const base = { HOME: process.env.HOME ?? '/', PATH: '' };
  const local = await runNeedsTool({ ...base });
  assert.equal(local.code, 0, local.out);
  assert.match(local.out, /# SKIP wrk is not installed \(Debian package wrk\)/);
  for (const ci of ['true', '1']) {
    const r = await runNeedsTool({ ...base, CI: ci });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /not ok 1 - needs wrk/);
    assert.match(r.out, /under CI a missing tool fails the test/);
  }
});

test('.ci/run installs the Debian package of every tool in TOOLS, and nothing the tests do not use', () => {
  const run = fs.readFileSync(new URL('../../../.ci/run', import.meta.url), 'utf8');
  const installed = [...run.matchAll(/out="\$out ([\w.+-]+)"/g)].map((m) => m[1]).sort();
  const wanted = Object.values(TOOLS).map((x) => x.deb).sort();
  assert.deepEqual(installed, wanted);
  assert.match(run, /CI=true npm test/);
});
