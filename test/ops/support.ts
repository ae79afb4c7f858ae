/**
 * Shared by the operations suites: load generators as child processes, with
 * their failures counted, and the demo server as a process.
 */
import { spawn } from 'node:child_process';
import { startCli, type RunningCli } from '../helpers.js';

const READY = /^listening on http:\/\/([^\s]+):(\d+) \((\d+) loops?, accept=(\w+), backlog=(\d+)\)$/m;

export interface Serve extends RunningCli {
  port: number;
}

export async function startServe(args: string[]): Promise<Serve> {
  const r = await startCli(['serve', ...args], READY);
  return { ...r, port: Number(r.match[2]) };
}

export interface WrkResult {
  requests: number;
  non2xx: number;
  socketErrors: number;
  output: string;
}

/** Runs wrk (bounded by -d and a kill timer) and reads its totals: requests, non-2xx, socket errors. */
export function wrk(url: string, seconds: number, connections = 16): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(kill);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out}`));
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      resolve({ requests, non2xx, socketErrors, output: out });
    });
  });
}

/** What a load run met, for the test's diagnostics: `N requests, N non-2xx, N socket errors`. */
export function loadSummary(r: WrkResult): string {
  return `${r.requests} requests, ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`;
}

/** Exit code of a process, or null if it is still running after ms. */
export function exitWithin(s: RunningCli, ms: number): Promise<number | null | 'running'> {
  return Promise.race([s.exit, new Promise<'running'>((r) => setTimeout(() => r('running'), ms))]);
}

/** Prometheus samples: `name{labels}` as written, to value. */
export type Samples = Map<string, number>;

/** `name{labels} value` lines into a map keyed by the line's name and labels as written. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** The sum over loops of a metric whose other labels match `labels` (e.g. 'code="2xx"'). */
export function sumMetric(s: Samples, name: string, labels = ''): number {
  let sum = 0;
  for (const [k, v] of s) {
    const brace = k.indexOf('{');
    const n = brace < 0 ? k : k.slice(0, brace);
    if (n === name && (labels === '' || k.includes(labels))) sum += v;
  }
  return sum;
}
