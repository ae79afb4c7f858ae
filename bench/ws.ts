/**
 * WebSocket benchmark: edgeloop vs the `ws` package on Node vs Bun's
 * WebSocket server (when Bun is installed in bench/peers), in the same run.
 * Run: npm run bench:ws [-- --seconds S --connections C --subscribers N --no-echo --no-wss --no-fanout]
 *
 *   echo     C (64) connections on one loop, each with --pipeline messages in
 *            flight, driven by `edgeloop bench ws://` (messages/s), and the
 *            server's CPU time per message
 *   wss echo the same over TLS (`edgeloop bench wss://`, an ECDSA P-256
 *            certificate): edgeloop vs `ws` on node:https vs Bun with tls
 *   fan-out  one publisher and N (1,000) subscribers of one topic, edgeloop on
 *            2 loops (the demo app's /pubsub/<topic>) vs Bun (server.publish);
 *            deliveries/s counted by the subscribers, and the CPU time per
 *            delivery of the server (all its threads) and of the client
 *            over the same span: the shared machine distorts rates, not these
 *
 * Servers are pinned to CPU 1 and clients to CPU 0 when taskset exists.
 * Rounds alternate the servers; each figure is the best round.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag } from '../src/cli/args.js';
import { int as fmt } from '../src/cli/format.js';
import { benchFlags, cpuSeconds, goalLine } from './harness.js';
import { bunPath, ensurePeers, peerModule, peersDir } from './peers.js';

const FLAGS = {
  seconds: flag.int({ min: 1, max: 3600 }),
  connections: flag.int({ min: 1, max: 100_000 }),
  subscribers: flag.int({ min: 1, max: 50_000 }),
  rounds: flag.int({ min: 1, max: 100 }),
  pipeline: flag.int({ min: 1, max: 1024 }),
  'no-echo': flag.bool(),
  'no-fanout': flag.bool(),
  'no-wss': flag.bool(),
  help: flag.bool({ short: 'h' }),
};
const values = benchFlags('bench:ws', FLAGS, 'usage: npm run bench:ws [-- --seconds S --connections C --pipeline P --subscribers N --rounds R --no-echo --no-wss --no-fanout]');
const seconds = values.seconds ?? 5;
const connections = values.connections ?? 64;
const pipeline = values.pipeline ?? 16;
const subscribers = values.subscribers ?? 1000;
const rounds = values.rounds ?? 2;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-bench-ws-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const fanoutClient = fileURLToPath(new URL('./ws-fanout-client.js', import.meta.url));
const certFile = path.join(tmp, 'cert.pem');
const keyFile = path.join(tmp, 'key.pem');
const CERT = JSON.stringify(certFile);
const KEY = JSON.stringify(keyFile);

const canPin = spawnSync('sh', ['-c', 'command -v taskset']).status === 0 && os.availableParallelism() >= 2;
const pinned = (cpu: number, [file, ...args]: [string, ...string[]]): [string, string[]] =>
  canPin ? ['taskset', ['-c', String(cpu), file, ...args]] : [file, args];

interface Server {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** One round's figure: a rate, and for fan-out the CPU microseconds per delivery of each side. */
interface Figure {
  rate: number;
  serverUs?: number;
  clientUs?: number;
}

const HTTP_INDEX = JSON.stringify(new URL('../src/http/index.js', import.meta.url).href);
const DEMO = JSON.stringify(new URL('../src/http/demo.js', import.meta.url).href);

/** The demo app's /ws echo and /pubsub/<topic>, as `edgeloop serve` runs it (with TLS: as `serve --tls-cert --tls-key`). */
const edgeloopScript = (loops: number, tls: boolean) => `
const fs = await import('node:fs');
const { serve } = await import(${HTTP_INDEX});
const s = await serve({ port: 0, loops: ${loops}, module: new URL(${DEMO})${tls ? `, tls: { cert: fs.readFileSync(${CERT}), key: fs.readFileSync(${KEY}) }` : ''} });
console.log('listening on ' + s.url);`;

/** ws's echo, on node:http or (wss) node:https. */
const wsEcho = (tls: boolean) => `
const fs = require('node:fs');
const { WebSocketServer } = require(${JSON.stringify(peerModule('ws'))});
const http = require(${tls ? "'node:https'" : "'node:http'"});
const server = http.createServer(${tls ? `{ cert: fs.readFileSync(${CERT}), key: fs.readFileSync(${KEY}) }` : ''});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary })));
server.listen(0, '127.0.0.1', () => console.log('listening on ${tls ? 'https' : 'http'}://127.0.0.1:' + server.address().port));`;

/** Echo on any path; /pubsub/<topic> subscribes, and a message goes to every other subscriber (ws.publish skips the sender). */
const bunServer = (tls: boolean) => `
const s = Bun.serve({
  port: 0, hostname: '127.0.0.1',${tls ? `\n  tls: { cert: Bun.file(${CERT}), key: Bun.file(${KEY}) },` : ''}
  fetch(req, server) {
    const path = new URL(req.url).pathname;
    const topic = path.startsWith('/pubsub/') ? path.slice(8) : null;
    if (server.upgrade(req, { data: { topic } })) return;
    return new Response('ws only', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) { if (ws.data.topic) ws.subscribe(ws.data.topic); },
    message(ws, m) { if (ws.data.topic) ws.publish(ws.data.topic, m); else ws.send(m); },
  },
});
console.log('listening on ${tls ? 'https' : 'http'}://127.0.0.1:' + s.port);`;

function kill(child: ChildProcess): Promise<void> {
  return new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

function spawnServer(name: string, cmd: [string, ...string[]], cwd?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(...pinned(1, cmd), { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on https?:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ name, port: Number(m[1]), pid: child.pid!, stop: () => kill(child) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

function run(cmd: [string, ...string[]]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(...pinned(0, cmd), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd.join(' ')} exited with ${code}: ${err}`))));
  });
}

/** `edgeloop bench ws://` (or wss:// trusting the run's certificate); the server's CPU time per echoed message. */
const echoRate = (tls: boolean) => async (s: Server): Promise<Figure> => {
  const target = tls ? [`wss://127.0.0.1:${s.port}/ws`, '--cacert', certFile] : [`ws://127.0.0.1:${s.port}/ws`];
  const cpu0 = cpuSeconds(s.pid);
  const out = await run([process.execPath, cli, 'bench', ...target, '-c', String(connections), '-d', `${seconds}s`, '--pipeline', String(pipeline), '--json']);
  const serverSeconds = cpuSeconds(s.pid) - cpu0;
  const r = JSON.parse(out) as { rps: number; completed: number; errors: Record<string, number> };
  const bad = Object.entries(r.errors).filter(([k, v]) => v > 0 && k !== 'unanswered');
  if (bad.length) console.error(`  ${s.name}: errors ${JSON.stringify(Object.fromEntries(bad))}`);
  return { rate: r.rps, serverUs: r.completed > 0 ? (serverSeconds * 1e6) / r.completed : NaN };
};

/** The fan-out client; the server's CPU time is read when the client starts counting and when it reports. */
function fanoutRate(s: Server): Promise<Figure> {
  const cmd: [string, ...string[]] = [process.execPath, fanoutClient, String(s.port), String(subscribers), String(seconds)];
  return new Promise((resolve, reject) => {
    const child = spawn(...pinned(0, cmd), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let server0 = NaN;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (Number.isNaN(server0) && err.includes('counting\n')) server0 = cpuSeconds(s.pid);
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.endsWith('\n')) return;
      const server = cpuSeconds(s.pid) - server0;
      const r = JSON.parse(out) as { deliveries: number; deliveriesPerSecond: number; clientCpuSeconds: number };
      const per = (sec: number): number => (r.deliveries > 0 ? (sec * 1e6) / r.deliveries : NaN);
      resolve({ rate: r.deliveriesPerSecond, serverUs: per(server), clientUs: per(r.clientCpuSeconds) });
    });
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`fan-out client exited with ${code}: ${err}`));
    });
  });
}

type Maker = () => Promise<Server>;

async function best(makers: Array<[string, Maker]>, measure: (s: Server) => Promise<Figure>): Promise<Map<string, Figure>> {
  const bestOf = new Map<string, Figure>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? makers : [...makers].reverse();
    for (const [name, make] of order) {
      const s = await make();
      try {
        const x = await measure(s);
        if (x.rate >= (bestOf.get(name)?.rate ?? 0)) bestOf.set(name, x);
      } catch (err) {
        console.error(`  ${name}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await s.stop();
      }
    }
  }
  return bestOf;
}

function table(title: string, unit: string, all: Map<string, Figure>, goals: Array<[string, number]>): void {
  const figures = new Map([...all].map(([name, f]) => [name, f.rate]));
  const base = figures.get('edgeloop') ?? 0;
  console.log(`\n${title}`);
  for (const [name, x] of figures) {
    const ratio = name === 'edgeloop' || x === 0 ? '' : `   edgeloop/${name} ${(base / x).toFixed(2)}x`;
    const f = all.get(name);
    const client = f?.clientUs !== undefined ? `, client ${f.clientUs.toFixed(3)}` : '';
    const cpu = f?.serverUs !== undefined ? `   CPU-us per ${unit === 'messages/s' ? 'message' : 'delivery'}: server ${f.serverUs.toFixed(3)}${client}` : '';
    console.log(`  ${name.padEnd(12)}${fmt(Math.round(x)).padStart(12)} ${unit}${ratio}${cpu}`);
  }
  for (const [peer, want] of goals) {
    const x = figures.get(peer);
    const measured = x === undefined || x === 0 ? `not measured (${peer} not available)` : `${(base / x).toFixed(2)}x`;
    console.log(goalLine(`>= ${want}x ${peer}`, x ? base / x >= want : undefined, measured));
  }
}

const havePeers = ensurePeers();
const bun = bunPath();
console.log(
  `bench:ws  ${seconds}s per round, ${rounds} rounds, best of; ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(1)}` +
    (canPin ? '; servers on CPU 1, clients on CPU 0' : '; not pinned (no taskset or 1 CPU)'),
);
/** A script file, not -e: loop workers inherit execArgv, and --input-type would refuse their module files. */
function edgeloopServer(loops: number, tls = false): Promise<Server> {
  const file = path.join(tmp, `edgeloop-${loops}${tls ? '-tls' : ''}.mjs`);
  fs.writeFileSync(file, edgeloopScript(loops, tls));
  return spawnServer('edgeloop', [process.execPath, file]);
}
function echoMakers(tls: boolean): Array<[string, Maker]> {
  const makers: Array<[string, Maker]> = [['edgeloop', () => edgeloopServer(1, tls)]];
  if (havePeers) makers.push(['ws', () => spawnServer('ws', [process.execPath, '-e', wsEcho(tls)], peersDir)]);
  if (bun) makers.push(['bun', () => spawnServer('bun', [bun, '-e', bunServer(tls)], peersDir)]);
  return makers;
}
if (!values['no-echo']) {
  const echo = await best(echoMakers(false), echoRate(false));
  table(`echo: ${connections} connections x pipeline ${pipeline}, one loop`, 'messages/s', echo, [
    ['ws', 3],
    ['bun', 1],
  ]);
}

if (!values['no-wss']) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  const wss = await best(echoMakers(true), echoRate(true));
  table('wss echo: the same over TLS (ECDSA P-256; ws on node:https)', 'messages/s', wss, []);
}

if (!values['no-fanout']) {
  const fanMakers: Array<[string, Maker]> = [['edgeloop', () => edgeloopServer(2)]];
  if (bun) fanMakers.push(['bun', () => spawnServer('bun', [bun, '-e', bunServer(false)], peersDir)]);
  const fan = await best(fanMakers, fanoutRate);
  table(`fan-out: 1 publisher, ${fmt(subscribers)} subscribers (edgeloop on 2 loops)`, 'deliveries/s', fan, [['bun', 1]]);
}
