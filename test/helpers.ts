/**
 * Test helpers shared by the suites: bounded waits, fd counts, raw clients.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';

export { sleep };

/** Rejects when p takes longer than ms: every wait in a test is bounded. */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** Polls cond every 10 ms until true; throws after ms. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(10);
  }
}

export function openFds(pid: number | 'self' = 'self'): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Connects, sends data, half-closes, and collects everything until the server's FIN. */
export function roundTrip(port: number, data: Uint8Array | string, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host }, () => {
      s.end(data);
    });
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** Opens a client and resolves once connected. */
export function connectClient(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.once('error', reject);
  });
}

export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd ARGS...` to its end, stdout and stderr apart; killed after timeoutMs (code null then). `env` is added to this process's. */
export function runToEnd(cmd: string, args: string[], timeoutMs = 60_000, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `edgeloop ARGS...` to its end; killed after timeoutMs (code null then). `env` is added to this process's. */
export function runCli(args: string[], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<CliResult> {
  return runToEnd(process.execPath, [CLI, ...args], timeoutMs, env);
}

export interface CommandResult {
  /** null when it was killed at the deadline or could not start. */
  code: number | null;
  /** stdout and stderr together, in arrival order. */
  out: string;
}

/** Runs a program to its end, killed after opts.ms (default 60 s). */
export function runCommand(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; ms?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.ms ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: null, out: `${out}${String(e)}` });
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** The ready line matched. */
  match: RegExpExecArray;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `edgeloop ARGS...` and resolves once stdout has a line matching `ready`; the caller kills it. */
export function startCli(args: string[], ready: RegExp, timeoutMs = 15_000, env: Record<string, string> = {}): Promise<RunningCli> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ready line; stderr: ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, match: m, stderr: () => err, exit });
      }
    });
    void exit.then((code) => {
      clearTimeout(t);
      reject(new Error(`exited with ${code} before ready; stderr: ${err}`));
    });
  });
}

/** A port the kernel just handed out and released, for daemons whose config needs a number (nginx, HAProxy). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** The temp-file directives of an nginx `http {}` block, all inside `dir` (nginx's defaults need root-owned paths). */
export function nginxTempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `  ${k}_temp_path ${dir}/${k === 'client_body' ? 'body' : k};`)
    .join('\n');
}

/** Listens on [::1] only; the port, or undefined where this machine has no IPv6 loopback. */
export function listenOnV6Loopback(server: net.Server): Promise<number | undefined> {
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(0, '::1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/**
/** Runs a command with a bounded time; never rejects (the exit code says). */
export function execTool(cmd: string, args: string[], input?: Uint8Array | string, timeout = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'latin1' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/**
 * Headless Chromium printing the DOM of `url` once loaded, with its own
 * profile dir (it honours the certificate flags only then) and nothing that
 * reaches out to the network; `extra` adds flags (--virtual-time-budget,
 * --ignore-certificate-errors-spki-list, ...). Never rejects.
 */
export function chromiumDom(chromium: string, profile: string, url: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-extensions',
    '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, ...extra, '--dump-dom', url];
  return execTool(chromium, args, undefined, 60_000);
}

/**
 * The external programs tests drive: the commands that may provide each one (the
 * first found on PATH wins; an absolute path is taken as is), an optional probe
 * run with it that must exit 0, and the Debian package that installs it. `.ci/run`
 * installs every package listed here (test/ci.test.ts checks the two agree).
 * A test that needs a new tool adds it here and calls requireTool; nothing else
 * looks for programs.
 */
export const TOOLS = {
  curl: { commands: ['curl'], deb: 'curl' },
  ab: { commands: ['ab'], deb: 'apache2-utils' },
  wrk: { commands: ['wrk'], deb: 'wrk' },
  siege: { commands: ['siege'], deb: 'siege' },
  nginx: { commands: ['nginx'], deb: 'nginx-light' },
  cc: { commands: ['cc'], deb: 'gcc' },
  haproxy: { commands: ['haproxy'], deb: 'haproxy' },
  openssl: { commands: ['openssl'], deb: 'openssl' },
  chromium: { commands: ['chromium', 'chromium-browser'], deb: 'chromium' },
  // Debian's python3, whatever python3 comes first on PATH (pyenv and the like lack the package).
  'python3-websockets': { commands: ['/usr/bin/python3'], probe: ['-c', 'import websockets'], deb: 'python3-websockets' },
  promtool: { commands: ['promtool'], deb: 'prometheus' },
  'testssl.sh': { commands: ['testssl.sh', 'testssl'], deb: 'testssl.sh' },
  'systemd-analyze': { commands: ['systemd-analyze'], deb: 'systemd' },
  'python3-yaml': { commands: ['/usr/bin/python3'], probe: ['-c', 'import yaml'], deb: 'python3-yaml' },
} as const satisfies Record<string, { commands: readonly string[]; probe?: readonly string[]; deb: string }>;

export type Tool = keyof typeof TOOLS;

/** CI=true (or any value but '', 0 and false), as CI services set it. */
export function inCi(): boolean {
  const v = (process.env.CI ?? '').toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

function onPath(command: string): string | null {
  const candidates = path.isAbsolute(command)
    ? [command]
    : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, command));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return null;
}

const found = new Map<Tool, string | null>();

/** The path of the tool, or null when it is not installed (the probe included). */
export function findTool(name: Tool): string | null {
  if (!found.has(name)) {
    const spec: { commands: readonly string[]; probe?: readonly string[] } = TOOLS[name];
    let hit: string | null = null;
    for (const command of spec.commands) {
      const p = onPath(command);
      if (p && (!spec.probe || spawnSync(p, spec.probe, { stdio: 'ignore', timeout: 30_000 }).status === 0)) {
        hit = p;
        break;
      }
    }
    found.set(name, hit);
  }
  return found.get(name) ?? null;
}

/**
 * The path of a tool the test needs. When it is missing the test skips with the
 * reason, except under CI, where it fails: CI must run every test.
 * Use: `const curl = requireTool(t, 'curl'); if (!curl) return;`
 */
export function requireTool(t: TestContext, name: Tool): string | null {
  const p = findTool(name);
  if (p) return p;
  const why = `${name} is not installed (Debian package ${TOOLS[name].deb})`;
  if (inCi()) throw new Error(`${why}; under CI a missing tool fails the test instead of skipping it (.ci/run installs it)`);
  t.skip(why);
  return null;
}
