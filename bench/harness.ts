/**
 * What the server benchmarks share: pinning, server processes started and
 * killed, nginx with one worker, wrk runs parsed. Thread: main. Owns the
 * processes it starts (each Server's stop() kills its own).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseFlagsOrExit, type FlagValues, type Flags } from '../src/cli/args.js';

/** The benchmark's flags from process.argv (exit 2 on a bad one; --help prints `usage` and exits 0). */
export function benchFlags<F extends Flags>(name: string, flags: F, usage: string): FlagValues<F> {
  const values = parseFlagsOrExit(name, process.argv.slice(2), flags);
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Servers on CPU 1 and the load on CPU 0, when taskset exists and there are two CPUs. */
export const canPin = has('taskset') && os.availableParallelism() >= 2;
export const pinPrefix = (cpu: number): string[] => (canPin ? ['taskset', '-c', String(cpu)] : []);

export interface Server {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** SIGKILL, resolved once the process is gone. */
export function kill(child: ChildProcess): Promise<void> {
  return new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

/** Starts a server on CPU 1; ready when its output matches `ready` (group 1: the port). */
export function spawnServer(name: string, cmd: string[], ready: RegExp, cwd?: string): Promise<Server> {
  const full = [...pinPrefix(1), ...cmd];
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve({ name, port: Number(m[1]), pid: child.pid!, stop: () => kill(child) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout?.trim()) || 100;
})();

/** utime + stime of a whole process (every thread), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * nginx with one worker on CPU 1 serving GET /hello -> "hello". `listen` is
 * added to the listen directive (e.g. "ssl"), `extra` to the server block.
 */
export async function startNginx(tmp: string, { listen = '', extra = '' }: { listen?: string; extra?: string } = {}): Promise<Server> {
  const port = await freePort();
  const dir = path.join(tmp, 'nginx');
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port}${listen ? ` ${listen}` : ''} backlog=4096;
${extra}
    location = /hello { default_type text/plain; return 200 'hello'; }
  }
}
`,
  );
  const full = [...pinPrefix(1), 'nginx', '-c', conf, '-p', dir];
  const child = spawn(full[0]!, full.slice(1), { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (up) break;
    if (child.exitCode !== null) throw new Error(`nginx exited: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name: 'nginx', port, pid: child.pid!, stop: () => kill(child) };
}

export interface WrkRun {
  rps: number;
  requests: number;
  /** Socket errors and non-2xx lines, when wrk printed any. */
  errors: string;
}

/** wrk on CPU 0 with these arguments (the URL among them); its requests/s, count and errors. */
export function runWrk(args: string[], timeoutMs: number): Promise<WrkRun> {
  const full = [...pinPrefix(0), 'wrk', ...args];
  return new Promise((resolve, reject) => {
    execFile(full[0]!, full.slice(1), { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${stderr || err.message}`));
      const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      if (!m) return reject(new Error(`unexpected wrk output:\n${stdout}`));
      const errs = [/Socket errors:[^\n]*/.exec(stdout)?.[0], /Non-2xx or 3xx responses:[^\n]*/.exec(stdout)?.[0]].filter(Boolean).join('; ');
      const total = /(\d+) requests in/.exec(stdout);
      resolve({ rps: Number(m[1]), requests: total ? Number(total[1]) : 0, errors: errs });
    });
  });
}

export interface RunFigures {
  rps: number;
  /** Server CPU (user + system, all threads) per request, in microseconds. */
  cpuUs: number;
  /** Server CPU over the run's wall time: well under 100% means the client, not the server, set the pace. */
  busy: number;
  errors: string;
}

/** One wrk run against `srv` with the server's CPU over it: requests/s, CPU per request, busy share. */
export async function measureWrk(srv: Server, args: string[], timeoutMs: number): Promise<RunFigures> {
  const before = cpuSeconds(srv.pid);
  const t0 = performance.now();
  const r = await runWrk(args, timeoutMs);
  const cpu = cpuSeconds(srv.pid) - before;
  const wall = (performance.now() - t0) / 1000;
  return { rps: r.rps, errors: r.errors, cpuUs: r.requests > 0 ? (cpu * 1e6) / r.requests : NaN, busy: cpu / wall };
}

/**
 * One second of keep-alive load on each server before its first measured round: a JIT-compiled
 * server (Node, Bun, edgeloop) spends its first second compiling, which nginx never pays;
 * counting it would measure the compiler, in whichever round came first.
 */
export async function warmUp(servers: Iterable<Server>, url: (port: number) => string, connections: number): Promise<void> {
  for (const srv of servers) {
    await runWrk(['-t1', `-c${connections}`, '-d1s', url(srv.port)], 30_000).catch(() => undefined);
  }
}

/** A goal's line, the same in every benchmark: met / MISS / n/a (not measured), its words, the measured figure. */
export function goalLine(goal: string, ok: boolean | undefined, measured = ''): string {
  return `  ${ok === undefined ? 'n/a ' : ok ? 'met ' : 'MISS'}  ${goal}${measured ? `: ${measured}` : ''}`;
}

export const percent = (v?: number): string => (v === undefined || Number.isNaN(v) ? '-' : `${Math.round(v * 100)}%`);
