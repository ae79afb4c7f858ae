#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node:test, one
// file at a time (they open real sockets and start servers). Fixtures and
// helpers under dist/test are not tests, so the files are listed explicitly
// instead of handing node --test the directory.
// Usage: node scripts/test.mjs [substring ...]   (only files whose path below test/ contains one, e.g. doctor/ or http/cli)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'test');
// No compiled tests is a failure, never an empty pass.
if (!fs.existsSync(root)) {
  console.error(`${root} does not exist: compile first (npx tsc -p tsconfig.json; npm test does it)`);
  process.exit(1);
}
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'fixtures') walk(p);
    } else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);
files.sort();
const filters = process.argv.slice(2);
// Match against the path below dist/test, so the checkout's own folder name cannot match every file.
const rel = (f) => path.relative(root, f);
const chosen = filters.length ? files.filter((f) => filters.some((x) => rel(f).includes(x.replace(/^(dist\/)?test\//, '')))) : files;
if (chosen.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=300000', ...chosen], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
