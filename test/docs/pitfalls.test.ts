/**
 * The text users see points at what ships: doctor cites docs/pitfalls.md (in
 * the package), whose table has every pitfall it cites; the lab and doctor
 * speak of "field reports", never of files that stay in the project's history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const dist = path.join(repo, 'dist/src');

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? jsFiles(p) : e.name.endsWith('.js') ? [p] : [];
  });
}

test('the shipped code names no seed and no shared/ file', () => {
  const hits: string[] = [];
  for (const f of jsFiles(dist)) {
    fs.readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if (/\bseeds?\b|shared\//i.test(line)) hits.push(`${path.relative(dist, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, []);
});

test('docs/pitfalls.md numbers every pitfall doctor cites', () => {
  const doc = fs.readFileSync(path.join(repo, 'docs/pitfalls.md'), 'utf8');
  const rows = new Set([...doc.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])));
  assert.deepEqual([...rows].sort((a, b) => a - b), Array.from({ length: 14 }, (_, i) => i + 1));
  const cited = new Set<number>();
  for (const f of jsFiles(path.join(dist, 'doctor'))) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/pitfalls: \[([\d, ]*)\]/g)) {
      for (const n of m[1]!.split(',').filter((x) => x.trim())) cited.add(Number(n));
    }
  }
  assert.ok(cited.size > 5, `doctor cites ${[...cited]}`);
  for (const n of cited) assert.ok(rows.has(n), `pitfall #${n} is cited by doctor but not in docs/pitfalls.md`);
});

test("doctor's findings cite \"pitfall #N in edgeloop's docs/pitfalls.md\"", async (t) => {
  const srv = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const r = await runCli(['doctor', '--port', String(port), '--seconds', '0.3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^info  KERNEL_SETTINGS \(pitfall #12 in edgeloop's docs\/pitfalls\.md\)$/m);
  assert.doesNotMatch(r.stdout, /shared\/|seed/i);
});
