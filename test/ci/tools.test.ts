/**
 * The tools tests drive: a missing one skips a test outside CI and fails it
 * under CI=true, and .ci/run installs every one that test/helpers.ts lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLS, fixture, runCommand } from '../helpers.js';

const runNode = (args: string[], env?: NodeJS.ProcessEnv) => runCommand(process.execPath, args, env ? { env } : {});
const runNeedsTool = (env: NodeJS.ProcessEnv) => runNode(['--test', '--test-reporter=tap', fileURLToPath(fixture('needsTool.js'))], env);

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

test('scripts/test.mjs without compiled tests fails with what to do, never passes empty', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-nodist-'));
  try {
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(fileURLToPath(new URL('../../../scripts/test.mjs', import.meta.url)), path.join(dir, 'scripts/test.mjs'));
    const r = await runNode([path.join(dir, 'scripts/test.mjs')]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /dist\/test does not exist: compile first/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
