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
import fs from 'node:fs';
import os from 'node:os';
import { flag, parseFlagsOrExit } from '../src/cli/args.js';

const values = parseFlagsOrExit('bench:client', process.argv.slice(2), {
  connections: flag.int({ min: 1, max: 100_000 }),
  threads: flag.int({ min: 1, max: 256 }),
  seconds: flag.int({ min: 1, max: 3600 }),
  rounds: flag.int({ min: 1, max: 100 }),
  'no-pin': flag.bool(),
});
const connections = values.connections ?? 50;
const threads = values.threads ?? 1;
const seconds = values.seconds ?? 5;
const rounds = values.rounds ?? 3;
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

/** Nanoseconds the main thread of pid ran and waited runnable (/proc/PID/schedstat). */
function schedstat(pid: number): { run: number; wait: number } {
  const [run = NaN, wait = NaN] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
  return { run, wait };
}

/** CPU seconds of this process's reaped children (cutime + cstime): what a finished tool used. */
function childrenCpuSeconds(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // USER_HZ is 100 on Linux
}

interface Measured {
  rps: number;
  requests: number;
  /** Share of the run the server's main thread was running or runnable: ~1 = never waiting for the client. */
  serverBusy: number;
  /** Share of the run it actually ran (less than busy when other processes take its CPU). */
  serverCpu: number;
  /** Client CPU per request, microseconds (contention-proof efficiency figure). */
  clientUsPerReq: number;
}

/** Runs one tool to completion while watching the server. */
async function measure(serverPid: number, run: () => Promise<{ rps: number; requests: number }>): Promise<Measured> {
  const s0 = schedstat(serverPid);
  const c0 = childrenCpuSeconds();
  const r = await run();
  const c1 = childrenCpuSeconds();
  const s1 = schedstat(serverPid);
  const ns = seconds * 1e9;
  return {
    ...r,
    serverBusy: (s1.run - s0.run + s1.wait - s0.wait) / ns,
    serverCpu: (s1.run - s0.run) / ns,
    clientUsPerReq: r.requests > 0 ? ((c1 - c0) * 1e6) / r.requests : NaN,
  };
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
  pid: number;
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
      // A child that printed its ready line was spawned, so it has a pid.
      if (m && child.pid !== undefined) {
        clearTimeout(timer);
        pin(child.pid, '0');
        resolve({ name, child, pid: child.pid, url: `${m[1]}${path}` });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
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

async function wrk(url: string): Promise<{ rps: number; requests: number }> {
  const pre = clientPrefix();
  const args = ['-c', String(connections), '-t', String(threads), '-d', `${seconds}s`, url];
  const out = await runCapture(pre[0] ?? 'wrk', pre.length ? [...pre.slice(1), 'wrk', ...args] : args);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const n = /(\d+) requests in/.exec(out);
  if (!m || !n) throw new Error(`could not read wrk's output:\n${out}`);
  const errs = /Non-2xx or 3xx responses: (\d+)|Socket errors: [^\n]+/.exec(out);
  if (errs) console.log(`    wrk reported: ${errs[0]}`);
  return { rps: Number(m[1]), requests: Number(n[1]) };
}

async function edgeloop(url: string): Promise<{ rps: number; requests: number }> {
  const pre = clientPrefix();
  const args = [cli, 'bench', url, '-c', String(connections), '-t', String(threads), '-d', String(seconds), '--json'];
  const out = await runCapture(pre[0] ?? process.execPath, pre.length ? [...pre.slice(1), process.execPath, ...args] : args);
  const r = JSON.parse(out) as { rps: number; completed: number; errors: Record<string, number> };
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  if (errors > 0) console.log(`    edgeloop bench counted ${errors} errors: ${JSON.stringify(r.errors)}`);
  return { rps: r.rps, requests: r.completed };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const at = (i: number) => s[i] ?? NaN;
  return s.length % 2 ? at(m) : (at(m - 1) + at(m)) / 2;
};

interface Comparison {
  wrk: Measured;
  edgeloop: Measured;
  ratio: number;
}

function medianOf(ms: Measured[]): Measured {
  return {
    rps: median(ms.map((m) => m.rps)),
    requests: median(ms.map((m) => m.requests)),
    serverBusy: median(ms.map((m) => m.serverBusy)),
    serverCpu: median(ms.map((m) => m.serverCpu)),
    clientUsPerReq: median(ms.map((m) => m.clientUsPerReq)),
  };
}

const pct = (x: number) => `${Math.round(x * 100)}%`.padStart(4);
const line = (m: Measured) =>
  `${m.rps.toFixed(0).padStart(7)} req/s (server busy ${pct(m.serverBusy)}, ran ${pct(m.serverCpu)}; client ${m.clientUsPerReq.toFixed(1)} us CPU/req)`;

/**
 * A round where the server was runnable but not running (another process had
 * its CPU) measures the box, not the tools: such rounds are flagged and left
 * out of the medians when enough clean rounds remain.
 */
const contended = (m: Measured) => m.serverCpu < 0.85 * m.serverBusy;

async function compare(server: Server): Promise<Comparison> {
  console.log(`\n${server.name}: ${server.url}`);
  const played: { w: Measured; e: Measured; busy: boolean }[] = [];
  const pid = server.pid;
  // Warm the server's JIT so the first tool does not pay for it.
  await wrk(server.url).catch(() => undefined);
  for (let i = 0; i < rounds; i++) {
    // Alternate the order so drift (thermal, other load) does not favour one tool.
    const runWrk = () => measure(pid, () => wrk(server.url));
    const runEdgeloop = () => measure(pid, () => edgeloop(server.url));
    let w: Measured;
    let e: Measured;
    if (i % 2 === 0) {
      w = await runWrk();
      e = await runEdgeloop();
    } else {
      e = await runEdgeloop();
      w = await runWrk();
    }
    const busy = contended(w) || contended(e);
    played.push({ w, e, busy });
    console.log(`  round ${i + 1}  wrk      ${line(w)}`);
    console.log(
      `           edgeloop ${line(e)}   ratio ${(e.rps / w.rps).toFixed(3)}` + (busy ? '   [contended: server runnable but not running]' : ''),
    );
  }
  const clean = played.filter((r) => !r.busy);
  const use = clean.length >= Math.min(2, rounds) ? clean : played;
  const res = { wrk: medianOf(use.map((r) => r.w)), edgeloop: medianOf(use.map((r) => r.e)), ratio: 0 };
  res.ratio = res.edgeloop.rps / res.wrk.rps;
  const which = use === clean ? `${clean.length} uncontended round(s)` : 'all rounds (too few uncontended)';
  console.log(`  median of ${which}`);
  console.log(`           wrk      ${line(res.wrk)}`);
  console.log(
    `           edgeloop ${line(res.edgeloop)}\n` +
      `  edgeloop/wrk = ${res.ratio.toFixed(3)} (${Math.abs(res.ratio - 1) <= 0.15 ? 'within' : 'OUTSIDE'} 15%)`,
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

  console.log('\nsummary (medians)');
  for (const [name, r] of summary) {
    console.log(
      `  ${name.padEnd(26)} wrk ${r.wrk.rps.toFixed(0).padStart(7)}  edgeloop ${r.edgeloop.rps.toFixed(0).padStart(7)}  ` +
        `ratio ${r.ratio.toFixed(3)}  server busy: wrk ${pct(r.wrk.serverBusy)}, edgeloop ${pct(r.edgeloop.serverBusy)}  ` +
        `client CPU/req: wrk ${r.wrk.clientUsPerReq.toFixed(1)} us, edgeloop ${r.edgeloop.clientUsPerReq.toFixed(1)} us`,
    );
  }
  if (threads === 1 && summary[0]) {
    const busy = summary[0][1].edgeloop.serverBusy;
    console.log(
      `  one loop of edgeloop bench ${busy >= 0.9 ? 'saturates' : 'does NOT saturate'} Node's http server ` +
        `(its thread was running or runnable ${pct(busy).trim()} of the run)`,
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
