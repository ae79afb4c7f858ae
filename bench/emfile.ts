/**
 * EMFILE bench (pitfall 14): `ab -r -c C -n N` against edgeloop, Node's http
 * and nginx (if installed), each started under `prlimit --nofile=L:L` (so
 * far fewer fds than concurrent clients), one after the other in the same run.
 * Prints ab's complete/failed counts and the ratio of failures against Node.
 * Run: npm run bench:emfile [-- --nofile 256 --concurrency 1000 --requests 20000 --no-nginx]
 * Thread: main. Owns the server children it starts (one at a time).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, parseFlagsOrExit } from '../src/cli/args.js';

const opts = parseFlagsOrExit('bench:emfile', process.argv.slice(2), {
  nofile: flag.int({ min: 16, max: 1_048_576 }),
  concurrency: flag.int({ min: 1, max: 20_000 }),
  requests: flag.int({ min: 1 }),
  'no-nginx': flag.bool(),
});
const nofile = opts.nofile ?? 256;
const concurrency = opts.concurrency ?? 1000;
const requests = opts.requests ?? 20000;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

for (const tool of ['ab', 'prlimit']) {
  if (!has(tool)) {
    console.error(`bench:emfile needs ${tool} (apache2-utils, util-linux)`);
    process.exit(2);
  }
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const NODE_SERVER =
  "require('http').createServer((q,s)=>s.end('hello\\n')).listen(0,'127.0.0.1',function(){console.log('listening on http://127.0.0.1:'+this.address().port)})";

interface Peer {
  name: string;
  start(): Promise<{ port: number; child: ChildProcess; log: () => string }>;
}

const limited = (cmd: string[]): [string, ...string[]] => ['prlimit', `--nofile=${nofile}:${nofile}`, ...cmd];

function startPrinting(cmd: [string, ...string[]]): Promise<{ port: number; child: ChildProcess; log: () => string }> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = cmd;
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), child, log: () => out });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${cmd.join(' ')} exited with ${code}: ${out}`)));
  });
}

async function startNginx(): Promise<{ port: number; child: ChildProcess; log: () => string }> {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-emfile-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes 1; daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections ${nofile * 4}; }
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port} backlog=4096; location = /hello { return 200 'hello\\n'; } } }
`,
  );
  const child = spawn('prlimit', [`--nofile=${nofile}:${nofile}`, 'nginx', '-c', conf, '-p', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (up) return { port, child, log: () => fs.readFileSync(path.join(dir, 'error.log'), 'utf8') };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not start: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
}

const peers: Peer[] = [
  { name: 'edgeloop', start: () => startPrinting(limited([process.execPath, CLI, 'serve', '--port', '0', '--loops', '1'])) },
  { name: 'node http', start: () => startPrinting(limited([process.execPath, '-e', NODE_SERVER])) },
];
if (!opts['no-nginx'] && has('nginx')) peers.push({ name: 'nginx', start: startNginx });

function ab(port: number): Promise<{ complete: number; failed: number }> {
  return new Promise((resolve) => {
    execFile(
      'ab',
      ['-r', '-s', '30', '-c', String(concurrency), '-n', String(requests), `http://127.0.0.1:${port}/hello`],
      { timeout: 300_000, maxBuffer: 1 << 22 },
      (_err, stdout) => {
        const num = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? NaN);
        resolve({ complete: num(/Complete requests:\s+(\d+)/), failed: num(/Failed requests:\s+(\d+)/) });
      },
    );
  });
}

console.log(`ab -r -c ${concurrency} -n ${requests} against servers under RLIMIT_NOFILE ${nofile} (machine may be shared: counts, not timing)`);
const rows: { name: string; complete: number; failed: number; logLines: number }[] = [];
for (const p of peers) {
  const s = await p.start();
  try {
    const r = await ab(s.port);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // an episode is reported a second after it ends
    const logLines = s.log().split('\n').filter((l) => /out of file descriptors|Too many open files|EMFILE/i.test(l)).length;
    rows.push({ name: p.name, ...r, logLines });
  } finally {
    s.child.kill('SIGKILL');
  }
}
const node = rows.find((r) => r.name === 'node http');
for (const r of rows) {
  const ratio = node && node.failed > 0 ? ` (${(r.failed / node.failed).toFixed(2)}x Node's)` : '';
  console.log(`${r.name.padEnd(10)} complete ${String(r.complete).padStart(6)}  failed ${String(r.failed).padStart(6)}${ratio}  fd-shortage log lines ${r.logLines}`);
}
