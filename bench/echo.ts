/**
 * Echo benchmark: edgeloop (one loop) vs Node's `net`, same client, same run.
 * Run: npm run bench:echo [-- --seconds S --connections C --size BYTES]
 * Each server runs in its own process; the client is an edgeloop loop in this
 * process, ping-ponging small messages on C connections. Prints round trips
 * per second for each server and the ratio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventLoop, connect, type TcpConnection } from '../src/reactor/index.js';
import { flag, parseFlagsOrExit } from '../src/cli/args.js';

const values = parseFlagsOrExit('bench:echo', process.argv.slice(2), {
  seconds: flag.int({ min: 1, max: 3600 }),
  connections: flag.int({ min: 1, max: 100_000 }),
  size: flag.size({ min: 1, max: 1024 ** 2 }),
  rounds: flag.int({ min: 1, max: 100 }),
});
const seconds = values.seconds ?? 3;
const nconn = values.connections ?? 50;
const size = values.size ?? 64;
const rounds = values.rounds ?? 2;
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const NODE_ECHO = `
const net = require('node:net');
const s = net.createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); c.on('error', () => {}); });
s.listen(0, '127.0.0.1', () => console.log('listening on 127.0.0.1:' + s.address().port));`;

/** utime and stime of a process, in seconds: user space is the framework's own cost, system time the kernel's. */
function cpuSeconds(pid: number): { user: number; sys: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
}

/** Pins a process to one CPU when taskset exists, so server and client do not trade cores. */
function pin(pid: number, cpu: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch {
    // no taskset: unpinned figures are noisier but still comparable
  }
}

function start(args: string[]): Promise<{ child: ChildProcess; pid: number; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on [^:]+:(\d+)/.exec(out);
      // A child that printed its ready line was spawned, so it has a pid.
      if (m && child.pid !== undefined) resolve({ child, pid: child.pid, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

/** The C client when a compiler is there (never the bottleneck), else an edgeloop client. */
function cClient(): string | undefined {
  const src = fileURLToPath(new URL('../../bench/c/echo_client.c', import.meta.url));
  const bin = path.join(os.tmpdir(), 'edgeloop-echo-client');
  try {
    execFileSync('cc', ['-O2', '-o', bin, src], { stdio: 'ignore' });
    return bin;
  } catch {
    console.log('(no C compiler: using the edgeloop client, which may itself be the bottleneck)');
    return undefined;
  }
}
const client = cClient();

async function load(port: number): Promise<number> {
  if (client) {
    return new Promise((resolve, reject) => {
      const c = spawn(client, [String(port), String(nconn), String(size), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
      if (c.pid !== undefined) pin(c.pid, 1);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`echo client failed (${code})`))));
    });
  }
  return loadJs(port);
}

async function loadJs(port: number): Promise<number> {
  const loop = new EventLoop();
  const msg = new Uint8Array(size).fill(97);
  let roundTrips = 0;
  let measuring = false;
  let running = true;
  const conns: TcpConnection[] = [];
  for (let i = 0; i < nconn; i++) {
    const c = await connect(loop, { host: '127.0.0.1', port });
    let pending = size;
    c.setHandlers({
      onMessage(conn, buf) {
        pending -= buf.readableBytes;
        buf.retrieveAll();
        if (pending <= 0) {
          if (measuring) roundTrips++;
          pending = size;
          if (running) conn.send(msg);
        }
      },
    });
    conns.push(c);
  }
  for (const c of conns) c.send(msg);
  await new Promise((r) => setTimeout(r, 500));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  measuring = false;
  running = false;
  for (const c of conns) c.forceClose();
  loop.quit();
  return roundTrips / elapsed;
}

interface TripCpu {
  user: number;
  sys: number;
}
/** Per server: round trips per second, and server CPU per round trip in µs split user/system; one entry per round. */
const nodeNet = { name: 'node net', args: ['-e', NODE_ECHO], rates: [] as number[], cpu: [] as TripCpu[] };
const edgeloop1 = { name: 'edgeloop (1 loop)', args: [cli, 'echo', '--port', '0', '--loops', '1'], rates: [] as number[], cpu: [] as TripCpu[] };
const servers = [nodeNet, edgeloop1];
for (let r = 0; r < rounds; r++) {
  for (const srv of servers) {
    const { child, pid, port } = await start(srv.args);
    pin(pid, 0);
    try {
      const cpu0 = cpuSeconds(pid);
      const rate = await load(port);
      const cpu1 = cpuSeconds(pid);
      // CPU includes the 0.5 s warm-up: the same for both servers.
      const trips = rate * (seconds + 0.5);
      srv.rates.push(rate);
      srv.cpu.push({ user: ((cpu1.user - cpu0.user) / trips) * 1e6, sys: ((cpu1.sys - cpu0.sys) / trips) * 1e6 });
    } finally {
      child.kill('SIGKILL');
    }
  }
}
const best = (xs: number[]): number => Math.max(...xs);
/** The round with the least total CPU per trip. */
const leanest = (xs: TripCpu[]): TripCpu => xs.reduce((a, b) => (b.user + b.sys < a.user + a.sys ? b : a));
fs.rmSync(client ?? '/nonexistent', { force: true });
console.log(`echo ping-pong: ${nconn} connections, ${size}-byte messages, ${seconds}s x ${rounds} rounds (best of)`);
for (const { name, rates: xs, cpu } of servers) {
  const c = leanest(cpu);
  console.log(
    `  ${name.padEnd(20)} ${best(xs).toFixed(0).padStart(9)} round trips/s  ${(c.user + c.sys).toFixed(2).padStart(6)} µs server CPU per round trip ` +
      `(user ${c.user.toFixed(2)}, kernel ${c.sys.toFixed(2)})   (${xs.map((x) => x.toFixed(0)).join(', ')})`,
  );
}
const e = leanest(edgeloop1.cpu);
const n = leanest(nodeNet.cpu);
console.log(`  server CPU efficiency edgeloop / node net: ${((n.user + n.sys) / (e.user + e.sys)).toFixed(2)}x (round trips per CPU-second)`);
console.log(`  user-space CPU per round trip, node net / edgeloop: ${(n.user / e.user).toFixed(2)}x (the framework's own cost)`);
// Each round trip is one recv and one send whoever serves it; their kernel time is a floor no
// framework goes below, so the ratio a one-core server can reach is bounded by it.
console.log(`  ceiling with zero user-space cost: ${((n.user + n.sys) / e.sys).toFixed(2)}x (node's CPU per trip / edgeloop's kernel time per trip)`);
console.log(`  ratio edgeloop / node net: ${(best(edgeloop1.rates) / best(nodeNet.rates)).toFixed(2)}x`);
