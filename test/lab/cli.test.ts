/**
 * `edgeloop lab` as users run it: --help, usage errors, --json on stdout,
 * --html written, exit status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const run = (args: string[]) => runCli(['lab', ...args], 60_000);

test('--help lists the scenarios and options', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const w of ['herd-lt', 'et-no-drain', 'et-drain', 'exclusive', 'reuseport', 'backlog', 'edgeloop', '--workers', '--seconds', '--json', '--html']) {
    assert.ok(r.stdout.includes(w), w);
  }
});

test('bad arguments exit 2 and say what was wrong', async () => {
  const name = await run(['herd-et']);
  assert.equal(name.code, 2);
  assert.match(name.stderr, /unknown scenario 'herd-et'/);
  const workers = await run(['--workers', 'many']);
  assert.equal(workers.code, 2);
  assert.match(workers.stderr, /--workers must be a whole number, got 'many'/);
  // The report's directory is checked before any scenario runs (they take seconds each).
  const html = await run(['et-drain', '--html', path.join(os.tmpdir(), 'edgeloop-no-such-dir', 'lab.html')]);
  assert.equal(html.code, 2, html.stderr);
  assert.match(html.stderr, /^edgeloop lab: --html .*lab\.html: directory .*edgeloop-no-such-dir does not exist \(ENOENT\)/);
  assert.doesNotMatch(html.stderr, /\[1\/1\]/, 'no scenario ran');
});

test('--json prints the scenarios with the promised keys; --html writes the report', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-lab-'));
  const html = path.join(dir, 'lab.html');
  try {
    const r = await run(['et-drain', '--workers', '2', '--burst', '40', '--json', '--html', html]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { scenarios: Record<string, unknown>[] };
    assert.equal(out.scenarios.length, 1);
    const s = out.scenarios[0]!;
    for (const k of ['name', 'workers', 'client', 'neverAccepted', 'listenOverflows', 'doctor']) assert.ok(k in s, k);
    assert.equal(s.name, 'et-drain');
    const workers = s.workers as { accepted: number; wakeups: number; eagain: number }[];
    assert.equal(workers.length, 2);
    for (const w of workers) for (const k of ['accepted', 'wakeups', 'eagain'] as const) assert.equal(typeof w[k], 'number');
    const client = s.client as { requests: number; completed: number; rps: number; latencyMs: object; errors: object; status: object };
    assert.equal(client.requests, 80);
    for (const k of ['completed', 'rps', 'latencyMs', 'errors', 'status']) assert.ok(k in client, k);
    assert.ok(Array.isArray(s.doctor));
    assert.match(r.stderr, /\[1\/1\] et-drain/, 'progress goes to stderr');
    const page = fs.readFileSync(html, 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /<svg/);
    assert.match(page, /et-drain: all 80 connections accepted/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the text report has a table per scenario, the summary and the verdicts', async () => {
  const r = await run(['reuseport', '--workers', '2', '--seconds', '0.5', '--no-doctor']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /━━ reuseport ━━\nfrom     field report: 20 workers, 3-4 hot: /);
  assert.doesNotMatch(r.stdout, /seed/i);
  assert.match(r.stdout, /worker\s+tid\s+accepted\s+wakeups\s+eagain/);
  assert.match(r.stdout, /━━ summary ━━/);
  assert.match(r.stdout, /^reuseport: 0 of [\d,]+ wakeups \(0%\) found nothing to accept/m);
});
