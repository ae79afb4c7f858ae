/**
 * Helpers for the operations tests: external tools (which must exist under
 * CI), free ports for daemons that cannot bind port 0, and daemons started
 * in a temporary directory and stopped after the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { nginxTempPaths, sleep } from '../helpers.js';


export function tempDir(t: TestContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function connectOnce(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** Starts a daemon in the foreground, waits until `port` accepts, and stops it (TERM, then KILL) after the test. */
export async function startDaemon(t: TestContext, cmd: string, args: string[], port: number, log: () => string, env?: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if (await connectOnce(port, 500)) return child;
    await sleep(50);
  }
  throw new Error(`${cmd} did not start: ${err} ${log()}`);
}

/** Runs a command to its end (bounded by timeoutMs), collecting its output. */
export { runToEnd as run } from '../helpers.js';

export interface NginxOptions {
  /** The `http { ... }` block's contents beyond logging and temp paths: upstreams and servers. */
  http: string;
  workers?: number;
  /** A master process (needed for more than one worker); off keeps nginx one process. */
  master?: boolean;
  workerConnections?: number;
}

/** Writes nginx.conf into `dir` (pid, logs and temp files stay there), starts nginx in the foreground until `port` accepts, and stops it after the test. Returns a reader of its error log. */
export async function startNginx(t: TestContext, dir: string, port: number, o: NginxOptions): Promise<() => string> {
  const tmp = (n: string): string => path.join(dir, n);
  fs.writeFileSync(
    tmp('nginx.conf'),
    `daemon off;
master_process ${o.master ? 'on' : 'off'};
worker_processes ${o.workers ?? 1};
pid ${tmp('nginx.pid')};
error_log ${tmp('error.log')} warn;
events { worker_connections ${o.workerConnections ?? 256}; }
http {
  access_log off;
${nginxTempPaths(dir)}
${o.http}
}
`,
  );
  const log = (): string => (fs.existsSync(tmp('error.log')) ? fs.readFileSync(tmp('error.log'), 'utf8') : '');
  await startDaemon(t, 'nginx', ['-p', dir, '-c', tmp('nginx.conf'), '-e', tmp('error.log')], port, log);
  return log;
}
