/**
 * The command as users run it: exit codes, --json on stdout, --html file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as servers from './servers.js';

const run = (args: string[]) => runCli(['bench', ...args], 30_000);

test('--help exits 0 and lists the options', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const o of ['-c', '-n', '-d', '-t', '--pipeline', '--close', '--rate', '--json', '--html']) assert.ok(r.stdout.includes(o), o);
});

test('bad arguments and unknown schemes exit 2 with a clear message', async () => {
  const ftp = await run(['ftp://127.0.0.1:1/']);
  assert.equal(ftp.code, 2);
  assert.match(ftp.stderr, /unsupported URL scheme 'ftp'/);
  const insecure = await run(['http://127.0.0.1:1/', '--insecure']);
  assert.equal(insecure.code, 2);
  assert.match(insecure.stderr, /--insecure applies to https:\/\/ and wss:\/\/ URLs only/);
  const bad = await run(['http://127.0.0.1:1/', '-c', 'many']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /-c must be a whole number, got 'many'/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /missing URL/);
  // A lone word is a typo, not a host on the search path: exit 2, before any lookup.
  const word = await run(['not-a-url']);
  assert.equal(word.code, 2, word.stderr);
  assert.match(word.stderr, /^edgeloop bench: 'not-a-url' is not a URL \(expected http:\/\/host\[:port\]\[\/path\]; for a host of that name, write http:\/\/not-a-url\)/);
  assert.equal(word.stderr.trimEnd().split('\n').length, 1, word.stderr);
});

test('--html into a missing directory exits 2 before the run starts', async () => {
  const s = await servers.httpServer(200, 'ok');
  try {
    const missing = path.join(os.tmpdir(), 'edgeloop-no-such-dir', 'r.html');
    const r = await run([`http://127.0.0.1:${s.port}/`, '-n', '5', '--html', missing]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--html .*r\.html: directory .*edgeloop-no-such-dir does not exist \(ENOENT\)/);
    assert.equal(r.stdout, '', 'no run, no report');
  } finally {
    await s.stop();
  }
});

test('-c above 10 prints no MaxListenersExceededWarning (one AbortSignal serves every connect)', async () => {
  const s = await servers.httpServer(200, 'ok');
  try {
    const r = await run([`http://127.0.0.1:${s.port}/`, '-c', '40', '-n', '200', '--close']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /MaxListenersExceededWarning|Warning/);
  } finally {
    await s.stop();
  }
});

test('an unresolvable host exits 1 with the reason', async () => {
  const r = await run(['http://no-such-host.invalid/', '-n', '1', '-c', '1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no-such-host\.invalid/);
});

test('--json prints one object with the promised keys; errors are data (exit 0)', async () => {
  const s = await servers.httpServer(503, 'no');
  try {
    const r = await run([`http://127.0.0.1:${s.port}/`, '-c', '2', '-n', '50', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.requests, 50);
    assert.equal(j.completed, 50);
    assert.equal(typeof j.rps, 'number');
    for (const k of ['p50', 'p90', 'p99', 'p999', 'max']) assert.equal(typeof j.latencyMs[k], 'number', k);
    for (const k of ['connectRefused', 'connectTimeout', 'reset', 'closed', 'timeout', 'malformed']) {
      assert.equal(j.errors[k], 0, k);
    }
    assert.deepEqual(j.status, { '503': 50 });
  } finally {
    await s.stop();
  }
});

test('a run in which nothing was answered exits 1 (like wrk); --html still writes a self-contained report', async () => {
  const s = await servers.refusing();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-bench-'));
  const file = path.join(dir, 'report.html');
  try {
    const r = await run([`http://127.0.0.1:${s.port}/`, '-c', '2', '-n', '20', '--html', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no request was answered/);
    assert.match(r.stdout, /connect refused\s+20/);
    assert.match(r.stdout, /20 requests = 0 answered \+ 20 failed \+ 0 unanswered/);
    const html = fs.readFileSync(file, 'utf8');
    assert.match(html, /<svg /);
    assert.doesNotMatch(html, /<script|<link /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
