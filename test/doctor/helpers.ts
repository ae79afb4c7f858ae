/**
 * Shared by the doctor tests: compiles the C reproducers with `cc` into a temp
 * dir, starts them, and makes loopback clients. Not a test file itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { native, type InetDiagSocket } from '../../src/native/binding.js';
import { states, tcpSockets, TcpState } from '../../src/native/inetDiag.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/doctor -> repo root (also works from test/doctor unbuilt). */
export const repoRoot = [path.resolve(here, '../../..'), path.resolve(here, '../..')].find((p) =>
  fs.existsSync(path.join(p, 'package.json')),
)!;
export const fixtures = path.join(repoRoot, 'test/fixtures/doctor');
export const cliPath = path.join(repoRoot, 'dist/src/cli/main.js');

let built: Promise<string> | null = null;

/** Compiles the epoll_server with the C compiler found by requireTool(t, 'cc'); its path. */
export function buildServer(cc: string): Promise<string> {
  built ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-doctor-'));
    const out = path.join(dir, 'epoll_server');
    const r = spawnSync(cc, ['-O1', '-Wall', '-Wextra', '-pthread', '-o', out, path.join(fixtures, 'epoll_server.c')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`cc failed: ${r.stderr || r.error}`);
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    return out;
  })();
  return built;
}

export interface Running {
  pid: number;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a program that prints "port N" and "ready"; kills it (and so its PDEATHSIG children) on stop. */
export function startProgram(file: string, args: string[], readyLine = /^ready$/m, portLine = /port (\d+)/): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} did not get ready in 10 s; stdout: ${out} stderr: ${err}`));
    }, 10_000);
    const stop = () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGKILL');
      });
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const p = portLine.exec(out);
      if (p && readyLine.test(out)) {
        clearTimeout(timer);
        resolve({ pid: child.pid!, port: Number(p[1]), child, stop });
      }
    });
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(file)} exited (${code ?? sig}) before ready: ${err}`));
    });
  });
}

/** Connects to 127.0.0.1:port; resolves when connected, rejects after timeoutMs. */
export function connect(port: number, timeoutMs = 3000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Sends bytes and a FIN; keeps the socket object so the caller can destroy it later. */
export async function sendAndClose(port: number, payload: string): Promise<net.Socket> {
  const s = await connect(port);
  s.on('error', () => {});
  s.end(payload);
  return s;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export { runCli } from '../helpers.js';

export function codes(findings: { code: string; severity: string }[]): string[] {
  return findings.map((f) => `${f.code}:${f.severity}`);
}

const AF_INET = 2;

/** The listener on `port` as inet_diag reports it; undefined when it has none. */
export function diagListener(port: number): InetDiagSocket | undefined {
  return tcpSockets(native, states(TcpState.LISTEN)).find((s) => s.localPort === port);
}

/**
 * A listener on 127.0.0.1 with backlog 0 that is never accepted from: its queue
 * holds one connection and every later SYN is dropped. Closed after the test.
 */
export function neverAcceptingListener(t: TestContext): number {
  const fd = native.socket(AF_INET);
  assert.ok(fd >= 0, `socket: ${fd}`);
  t.after(() => native.close(fd));
  assert.equal(native.bind(fd, '127.0.0.1', 0), 0);
  assert.equal(native.listen(fd, 0), 0);
  return (native.getsockname(fd) as { port: number }).port;
}
