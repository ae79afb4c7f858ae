/**
 * The package as a user gets it: `npm pack`, the tarball installed into a new
 * project (the addon compiles there), every public entry imported from ESM and
 * from CommonJS, a server run and hit, the CLI run from node_modules/.bin, and
 * TypeScript consumers type-checked under nodenext, bundler and node10. The
 * ```ts snippets of README.md and docs/*.md are compiled against the
 * installed package too (a block that is not a whole module is marked with
 * `<!-- fragment -->` on the line before its fence), and the README's two
 * servers are run as written (port 0 instead of theirs).
 *
 * A new public entry (say edgeloop/ws) is a folder with an index.ts, a line in
 * package.json `exports` (types + default) and `typesVersions`, and a name in
 * ENTRIES below: this test then imports it and type-checks it in every mode.
 * One install for the whole file: it compiles C and takes most of its time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, within } from '../helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');

/** The public entries, and names each must (and must not) export. */
const ENTRIES: Record<string, { has: string[]; hasNot: string[] }> = {
  edgeloop: {
    has: ['serve', 'HttpRequest', 'HttpResponse', 'HttpError', 'defaultLimits', 'TcpServer', 'EventLoop', 'connect', 'ConnectionPool', 'SysError', 'ServerWebSocket'],
    hasNot: [],
  },
  'edgeloop/http': { has: ['serve', 'HttpRequest', 'HttpResponse', 'RequestBody', 'HttpError', 'fromFetch', 'STATUS_TEXT'], hasNot: [] },
  'edgeloop/reactor': { has: ['TcpServer', 'EventLoop', 'Buffer', 'TcpClient', 'ConnectionPool', 'connect', 'SysError', 'ACCEPT_STRATEGIES'], hasNot: [] },
  'edgeloop/ws': { has: ['ServerWebSocket', 'SendStatus', 'CloseCode'], hasNot: [] },
  // Needs hono (an optional peer dependency), linked into the consumer below.
  'edgeloop/hono': { has: ['upgradeWebSocket', 'websocket', 'createEdgeloopWebSocket'], hasNot: [] },
};
/** Internals no public entry exports: users cannot use them (raw fds, another thread's ring, parser events). */
const INTERNALS = ['Poller', 'LoopQueue', 'QueueMsg', 'Channel', 'Acceptor', 'ServerLoop', 'listenTcp', 'RequestParser', 'RequestHead', 'native'];

let dir = '';
let app = '';
let files: string[] = [];

/** The environment of `npm test` minus what describes this package, so npm inside acts for the temp project. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_(package|lifecycle)_/.test(k)) env[k] = v;
  return env;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-package-'));
  // dist/ is what this test runs from, already built: no prepare script (it would rewrite dist under the running suite).
  const pack = await runCommand('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repo, ms: 120_000, env: npmEnv() });
  assert.equal(pack.code, 0, pack.out);
  const info = JSON.parse(pack.out.slice(pack.out.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  files = info[0].files.map((f) => f.path);
  app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const install = await runCommand('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, info[0].filename)], {
    cwd: app,
    ms: 240_000,
    env: npmEnv(),
  });
  assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.out}`);
  // Type-checking needs Node's types, and the docs' Hono snippets hono: the repo's copies, linked.
  for (const dep of ['@types/node', 'hono']) {
    fs.mkdirSync(path.dirname(path.join(app, 'node_modules', dep)), { recursive: true });
    fs.symlinkSync(path.join(repo, 'node_modules', dep), path.join(app, 'node_modules', dep));
  }
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the compiled library, its types, the C sources and the docs; no tests, bench, CI or source maps', () => {
  for (const must of ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'native/src/addon.c', 'native/src/common.h', 'docs/http-api.md', 'docs/reactor-api.md', 'docs/pitfalls.md', 'docs/websocket.md']) {
    assert.ok(files.includes(must), `${must} is missing from the tarball`);
  }
  const bad = files.filter((f) => /^(test|bench|scripts|\.ci|build|src|dist\/(test|bench))\/|\.map$|\.tgz$|tsconfig/.test(f));
  assert.deepEqual(bad, []);
  for (const entry of Object.keys(ENTRIES)) {
    const sub = entry === 'edgeloop' ? 'dist/src' : `dist/src/${entry.slice('edgeloop/'.length)}`;
    assert.ok(files.includes(`${sub}/index.js`) && files.includes(`${sub}/index.d.ts`), `${entry}: ${sub}/index.{js,d.ts}`);
  }
});

test('every entry imports from ESM and exports its public names, no internals; a server runs and answers', async () => {
  const script = `
import assert from 'node:assert/strict';
import net from 'node:net';
const ENTRIES = ${JSON.stringify(ENTRIES)};
const INTERNALS = ${JSON.stringify(INTERNALS)};
const mods = {};
for (const [name, want] of Object.entries(ENTRIES)) {
  const m = await import(name);
  mods[name] = m;
  for (const n of want.has) assert.ok(n in m, name + ' exports ' + n);
  for (const n of [...want.hasNot, ...INTERNALS]) assert.ok(!(n in m), name + ' does not export ' + n);
}
const { serve, TcpServer } = mods.edgeloop;
const server = await serve({ port: 0, handler: (req, res) => res.end('hello ' + req.path) });
const r = await fetch(server.url + '/x');
assert.equal(await r.text(), 'hello /x');
await server.stop({ timeout: 1000 });
const echo = new TcpServer({ port: 0, loops: 1, handlers: { onMessage(conn, buf) { conn.send(buf.retrieveAllAsString()); } } });
const { port } = await echo.listen();
const got = await new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1', () => s.end('ping'));
  let d = '';
  s.on('data', (b) => (d += b)).on('end', () => resolve(d)).on('error', reject);
});
assert.equal(got, 'ping');
await echo.stop({ timeout: 1000 });
console.log('esm ok');
`;
  fs.writeFileSync(path.join(app, 'esm.mjs'), script);
  const r = await runCommand(process.execPath, ['esm.mjs'], { cwd: app, ms: 30_000 });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /esm ok/);
});

test('CommonJS: require() of every entry where Node loads ES modules from require (20.19+), ERR_REQUIRE_ESM before', async () => {
  const script = `
const assert = require('node:assert/strict');
const ENTRIES = ${JSON.stringify(ENTRIES)};
for (const [name, want] of Object.entries(ENTRIES)) {
  if (process.features.require_module) {
    const m = require(name);
    for (const n of want.has) assert.ok(n in m, name + ' exports ' + n);
  } else {
    assert.throws(() => require(name), { code: 'ERR_REQUIRE_ESM' }, name);
  }
}
console.log('cjs ok', Boolean(process.features.require_module));
`;
  fs.writeFileSync(path.join(app, 'cjs.cjs'), script);
  const r = await runCommand(process.execPath, ['cjs.cjs'], { cwd: app, ms: 30_000 });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /cjs ok/);
});

test('the CLI runs from node_modules/.bin', async () => {
  const r = await runCommand(path.join(app, 'node_modules/.bin/edgeloop'), ['--version'], { cwd: app, ms: 30_000 });
  assert.equal(r.code, 0, r.out);
  const version = (JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(r.out.trim(), version);
});

const CONSUMER = `
import { serve, TcpServer, SysError, type HttpRequest, type HttpResponse } from 'edgeloop';
import { HttpError, type ServeOptions } from 'edgeloop/http';
import { EventLoop, type ServerHandlers, type CloseReason, type TcpConnection } from 'edgeloop/reactor';

const handlers: ServerHandlers = {
  onClose(conn: TcpConnection, reason: CloseReason, error?: SysError) {
    const code: string | undefined = error?.code;
    void [conn.id, reason, code];
  },
};
const opts: ServeOptions = { port: 0, handler: (req: HttpRequest, res: HttpResponse) => res.end(req.path) };
// @ts-expect-error -- @internal members are stripped from the published types
opts.handler = (_req: HttpRequest, res: HttpResponse) => res.abandon();
export const used = [serve, TcpServer, HttpError, EventLoop, handlers, opts];
`;

/** tsconfig per moduleResolution mode; the same strict consumer in each. */
const MODES: Record<string, Record<string, unknown>> = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
  node10: { module: 'commonjs', moduleResolution: 'node10' },
};

function tsconfig(extra: Record<string, unknown>, include: string[]): string {
  return JSON.stringify({
    // TypeScript's own lib files are not ours to check (and checking them doubles the time).
    compilerOptions: { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true, types: ['node'], ...extra },
    include,
  });
}

/** Type-checks (or compiles) the project in d with the repo's TypeScript; tsc's report on failure. */
async function typeCheck(d: string): Promise<void> {
  const r = await runCommand(process.execPath, [tsc, '-p', d], { cwd: app, ms: 180_000 });
  assert.equal(r.code, 0, `tsc -p ${path.basename(d)}:\n${r.out}`);
}

test('a TypeScript consumer type-checks under moduleResolution nodenext, bundler and node10, the published .d.ts included', async () => {
  // skipLibCheck off: the package's own .d.ts are checked as a user without skipLibCheck would see them.
  // The three run side by side: most of their time is checking @types/node.
  await Promise.all(
    Object.entries(MODES).map(async ([mode, options]) => {
      const d = path.join(app, `ts-${mode}`);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'consumer.ts'), CONSUMER);
      fs.writeFileSync(path.join(d, 'tsconfig.json'), tsconfig(options, ['consumer.ts']));
      await typeCheck(d);
    }),
  );
});

/** Each ```ts block of a Markdown file (indented ones too), with its line; one marked `<!-- fragment -->` on the line before is skipped. */
function tsBlocks(file: string): { line: number; code: string }[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks: { line: number; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```ts\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]!.length;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? ''); i++) body.push((lines[i] ?? '').slice(indent));
    if (!/<!--\s*fragment\s*-->/.test(lines[start - 1] ?? '')) blocks.push({ line: start + 1, code: body.join('\n') });
  }
  return blocks;
}

const DOCS = ['README.md', ...fs.readdirSync(path.join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
/** Where the snippets are compiled to: one module per snippet, named after its doc and line. */
let snippetsOut = '';
const snippetName = (doc: string, line: number) => `${doc.replace(/\W+/g, '_')}_line${line}`;

test('the ```ts snippets of README.md and docs/ compile against the installed package', async () => {
  const d = path.join(app, 'snippets');
  fs.mkdirSync(d);
  const names: string[] = [];
  for (const doc of DOCS) {
    for (const b of tsBlocks(path.join(repo, doc))) {
      const name = `${snippetName(doc, b.line)}.ts`;
      // Each snippet is its own module (top-level await, no clashes between snippets).
      fs.writeFileSync(path.join(d, name), `${b.code}\nexport {};\n`);
      names.push(name);
    }
  }
  assert.ok(names.length >= 10, `found ${names.length} snippets`);
  // The .d.ts were checked above; here the snippets are, and their JavaScript is kept to run the README's.
  fs.writeFileSync(path.join(d, 'tsconfig.json'), tsconfig({ ...MODES.nodenext, skipLibCheck: true, noEmit: false, outDir: 'out' }, names));
  await typeCheck(d); // tsc names the file (doc and line) of every error
  snippetsOut = path.join(d, 'out');
});

/** The compiled first ```ts block after the README heading `title`, with its port set to 0. */
function readmeExample(title: string, port: number): string {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  const at = readme.indexOf(title);
  assert.ok(at >= 0, `README has "${title}"`);
  const line = readme.slice(0, at + readme.slice(at).indexOf('```ts')).split('\n').length;
  assert.ok(snippetsOut, 'the snippets compiled');
  const js = fs.readFileSync(path.join(snippetsOut, `${snippetName('README.md', line)}.js`), 'utf8');
  assert.ok(js.includes(`port: ${port},`), `the example listens on ${port}`);
  const file = path.join(snippetsOut, `example-${port}.js`);
  fs.writeFileSync(file, js.replace(`port: ${port},`, 'port: 0,'));
  return file;
}

/** Runs an example until it prints its port, checks it still serves after its last line, hits it, then Ctrl-C: exit 0. */
async function runExample(file: string, hit: (port: number) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, [file], { cwd: path.dirname(file), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const portLine = /port: (\d+)|127\.0\.0\.1:(\d+)/;
  try {
    await within(20_000, (async () => {
      while (!portLine.test(out)) {
        if (child.exitCode !== null) throw new Error(`the example exited: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })(), "the example's listening line");
    const m = portLine.exec(out)!;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(child.exitCode, null, `the example stopped serving: ${out}`);
    await hit(Number(m[1] ?? m[2]));
    child.kill('SIGINT');
    assert.equal(await within(10_000, exited, "the example's exit after SIGINT"), 0, out);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

test('the README reactor example keeps serving (echo) until Ctrl-C, then exits 0', async () => {
  await runExample(readmeExample('### Reactor in', 7000), async (port) => {
    const got = await within(5000, new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.end('ping'));
      let d = '';
      s.on('data', (b: Buffer) => (d += b.toString()));
      s.on('end', () => resolve(d));
      s.on('error', reject);
    }), 'echo');
    assert.equal(got, 'ping');
  });
});

test('the README HTTP example keeps serving until Ctrl-C, then exits 0', async () => {
  await runExample(readmeExample('### HTTP server in', 8080), async (port) => {
    const r = await fetch(`http://127.0.0.1:${port}/?name=you`);
    assert.equal(await r.text(), 'hello you\n');
  });
});
