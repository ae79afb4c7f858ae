/**
 * Load-generator accuracy: wrk and `edgeloop bench` against the same target,
 * same connections and threads, in the same run, alternating, several rounds.
 * Run: npm run bench:client [-- --connections 50 --threads 1 --seconds 5 --rounds 3 --no-pin]
 *
 * Targets: Node's `http` server (a child process) and, when it starts,
 * `edgeloop serve --loops 1`. Prints requests/s of each tool per round, the
 * medians and edgeloop/wrk; and the server's CPU while edgeloop bench drives
 * it (about 100% of a core = one loop of the client saturates the server).
 * Skips with a message when wrk is not installed (apt-get install -y wrk).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    threads: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    'no-pin': { type: 'boolean', default: false },
  },
});
const connections = Number(values.connections);
const threads = Number(values.threads);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const cpus = os.availableParallelism();
// On a small box, server and client trading cores makes every figure noisier:
// pin the server to CPU 0 and the load generator to the others.
const pinning = !values['no-pin'] && cpus >= 2 && hasTaskset();

const NODE_HTTP = `
const http = require('node:http');
const s = http.createServer((req, res) => res.end('hello world'));
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port));`;

function hasTaskset(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

function haveWrk(): boolean {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && /wrk/i.test(`${r.stdout}${r.stderr}`);
}

/** utime + stime of a process and its threads, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // clock ticks: USER_HZ is 100 on Linux
}

function pin(pid: number, cpuList: string): void {
  if (!pinning) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
  } catch {
    // unpinned figures are noisier but still comparable
  }
}

const clientCpus = () => (cpus > 2 ? `1-${cpus - 1}` : '1');
const clientPrefix = (): string[] => (pinning ? ['taskset', '-c', clientCpus()] : []);

interface Server {
  name: string;
  child: ChildProcess;
  url: string;
}

function startServer(name: string, args: string[], path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${name}: no "listening on" line within 10 s: ${out}`));
    }, 10_000);
    const onData = (d: string) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+?)\/?(\s|$)/.exec(out);
      if (m) {
        clearTimeout(timer);
        pin(child.pid!, '0');
        resolve({ name, child, url: `${m[1]}${path}` });
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${out.trim()}`));
    });
  });
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
    setTimeout(() => s.child.kill('SIGKILL'), 3000).unref();
  });
}

function runCapture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err || out}`))));
  });
}

async function wrk(url: string): Promise<number> {
  const pre = clientPrefix();
  const args = ['-c', String(connections), '-t', String(threads), '-d', `${seconds}s`, url];
  const out = await runCapture(pre[0] ?? 'wrk', pre.length ? [...pre.slice(1), 'wrk', ...args] : args);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`could not read wrk's output:\n${out}`);
  const errs = /Non-2xx or 3xx responses: (\d+)|Socket errors: [^\n]+/.exec(out);
  if (errs) console.log(`    wrk reported: ${errs[0]}`);
  return Number(m[1]);
}

async function edgeloop(url: string, serverPid: number): Promise<{ rps: number; serverCpu: number; errors: number }> {
  const pre = clientPrefix();
  const args = [cli, 'bench', url, '-c', String(connections), '-t', String(threads), '-d', String(seconds), '--json'];
  const cpu0 = cpuSeconds(serverPid);
  const t0 = performance.now();
  const out = await runCapture(pre[0] ?? process.execPath, pre.length ? [...pre.slice(1), process.execPath, ...args] : args);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds(serverPid);
  const r = JSON.parse(out) as { rps: number; errors: Record<string, number> };
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  // Process start-up is part of `wall`, so this slightly under-states the server's busy share.
  return { rps: r.rps, serverCpu: (cpu1 - cpu0) / Math.min(wall, seconds + 0.3), errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function compare(server: Server): Promise<{ wrk: number; edgeloop: number; ratio: number; serverCpu: number }> {
  console.log(`\n${server.name}: ${server.url}`);
  const w: number[] = [];
  const e: number[] = [];
  const cpu: number[] = [];
  // Warm the server's JIT so the first tool does not pay for it.
  await wrk(server.url).catch(() => 0);
  for (let i = 0; i < rounds; i++) {
    // Alternate the order so drift (thermal, other load) does not favour one tool.
    const order = i % 2 === 0 ? ['wrk', 'edgeloop'] : ['edgeloop', 'wrk'];
    for (const tool of order) {
      if (tool === 'wrk') w.push(await wrk(server.url));
      else {
        const r = await edgeloop(server.url, server.child.pid!);
        e.push(r.rps);
        cpu.push(r.serverCpu);
        if (r.errors > 0) console.log(`    edgeloop bench counted ${r.errors} errors`);
      }
    }
    console.log(
      `  round ${i + 1}: wrk ${w[i]!.toFixed(0).padStart(7)} req/s   edgeloop bench ${e[i]!.toFixed(0).padStart(7)} req/s` +
        `   ratio ${(e[i]! / w[i]!).toFixed(3)}   server CPU during edgeloop run ${(cpu[i]! * 100).toFixed(0)}%`,
    );
  }
  const res = { wrk: median(w), edgeloop: median(e), ratio: median(e) / median(w), serverCpu: median(cpu) };
  console.log(
    `  median:  wrk ${res.wrk.toFixed(0)} req/s, edgeloop bench ${res.edgeloop.toFixed(0)} req/s, ` +
      `edgeloop/wrk = ${res.ratio.toFixed(3)} (${Math.abs(res.ratio - 1) <= 0.15 ? 'within' : 'OUTSIDE'} 15%)`,
  );
  return res;
}

async function main(): Promise<number> {
  if (!haveWrk()) {
    console.log('bench:client skipped: wrk is not installed (apt-get install -y wrk)');
    return 0;
  }
  console.log(
    `wrk vs edgeloop bench: -c ${connections} -t ${threads}, ${seconds} s x ${rounds} rounds, ${cpus} CPUs` +
      (pinning ? `, server pinned to CPU 0, clients to CPU ${clientCpus()}` : ', unpinned'),
  );
  const summary: Array<[string, Awaited<ReturnType<typeof compare>>]> = [];

  const node = await startServer('node:http', ['-e', NODE_HTTP], '/');
  try {
    summary.push(['node:http', await compare(node)]);
  } finally {
    await stopServer(node);
  }

  let edge: Server | undefined;
  try {
    edge = await startServer('edgeloop serve --loops 1', [cli, 'serve', '--port', '0', '--loops', '1'], '/hello');
  } catch (err) {
    console.log(`\nedgeloop serve skipped: ${(err as Error).message.split('\n')[0]}`);
  }
  if (edge) {
    try {
      summary.push(['edgeloop serve --loops 1', await compare(edge)]);
    } finally {
      await stopServer(edge);
    }
  }

  console.log('\nsummary');
  for (const [name, r] of summary) {
    console.log(
      `  ${name.padEnd(26)} wrk ${r.wrk.toFixed(0).padStart(7)}  edgeloop ${r.edgeloop.toFixed(0).padStart(7)}  ` +
        `ratio ${r.ratio.toFixed(3)}  server CPU ${(r.serverCpu * 100).toFixed(0)}%`,
    );
  }
  if (threads === 1 && summary[0]) {
    const cpu = summary[0][1].serverCpu;
    console.log(
      `  one loop of edgeloop bench ${cpu >= 0.9 ? 'saturates' : 'does NOT saturate'} Node's http server ` +
        `(server busy ${(cpu * 100).toFixed(0)}% of a core while driven)`,
    );
  }
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`bench:client: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
