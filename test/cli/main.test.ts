/**
 * `edgeloop` itself: no command is a usage error (exit 2), --help lists
 * --version, and --version prints the package's version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { runCli } from '../helpers.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

test('edgeloop with no arguments prints the usage on stderr and exits 2', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^usage: edgeloop <command>/);
  assert.equal(r.stdout, '');
});

test('--help exits 0 and lists --help and --version; --version prints the version', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^ {2}-v, --version +/m);
  assert.match(help.stdout, /^ {2}-h, --help +/m);
  for (const c of ['echo', 'serve', 'bench', 'doctor', 'lab']) assert.match(help.stdout, new RegExp(`^ {2}${c} `, 'm'));
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), version);
});
