/**
 * Runs a bench: one LoopDriver on this thread for -t 1, or one Worker per
 * loop for -t N, then merges what they counted. Thread: main. Owns the
 * workers (or the single EventLoop) for the length of the run.
 */
import { Worker } from 'node:worker_threads';
import net from 'node:net';
import { EventLoop } from '../reactor/index.js';
import { resolveHosts } from '../reactor/Listener.js';
import { native } from '../native/binding.js';
import { LoopDriver, type DriverConfig } from './driver.js';
import { LiveCounters } from './live.js';
import type { BenchOptions } from './options.js';
import { buildRequest } from './request.js';
import { buildWsRequest } from './ws-request.js';
import { buildResult, type BenchResult } from './result.js';
import { mergeSnapshots, type StatsSnapshot } from './stats.js';

export interface RunningBench {
  /** Running totals for a progress display. */
  readonly live: LiveCounters;
  /** Stop issuing now (Ctrl-C); in-flight requests get the grace period. */
  stop(): void;
  readonly result: Promise<BenchResult>;
}

/** Splits n into k shares differing by at most one, larger ones first. */
export function shares(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

export function driverConfigs(o: BenchOptions, host: string, live: LiveCounters): DriverConfig[] {
  const conns = shares(o.connections, o.threads);
  const reqs = o.requests !== undefined ? shares(o.requests, o.threads) : undefined;
  const request = buildRequest(o);
  // One handshake key and masking key for the run: every thread checks the same accept value.
  const ws = o.ws ? buildWsRequest(o) : undefined;
  return conns.map((connections, thread) => {
    const c: DriverConfig = {
      thread,
      host,
      port: o.target.port,
      connections,
      pipeline: o.pipeline,
      close: o.close,
      connectTimeoutMs: o.connectTimeoutMs,
      timeoutMs: o.timeoutMs,
      graceMs: o.graceMs,
      request,
      liveBuffer: live.sab,
      ...(o.tls ? { tls: o.tls } : {}),
    };
    if (ws) c.ws = ws;
    const share = reqs?.[thread];
    if (share !== undefined) c.requests = share;
    if (o.durationMs !== undefined) c.durationMs = o.durationMs;
    if (o.rate !== undefined) c.rate = o.rate / o.threads;
    return c;
  });
}

const nowAbs = () => performance.timeOrigin + performance.now();

/**
 * Raises the soft RLIMIT_NOFILE toward the hard limit when -c needs it: a run
 * that fails every connect with EMFILE measures the shell's ulimit, not the
 * server. Returns a warning when even the hard limit is too low.
 */
export function ensureFdLimit(connections: number): string | undefined {
  const lim = native.getrlimitNofile();
  if (typeof lim === 'number') return undefined;
  const [soft, hard] = lim;
  // Connections closing gracefully (--close) linger briefly next to their replacements.
  const want = connections * 2 + 256;
  if (soft >= want) return undefined;
  const next = Math.min(hard, want);
  if (next > soft) native.setrlimitNofile(next, hard);
  if (next < connections + 64) {
    return `-c ${connections} needs about ${connections + 64} file descriptors but the hard limit is ${hard}; connects beyond it fail with EMFILE (raise it with ulimit -Hn)`;
  }
  return undefined;
}

/**
 * The run connects to one address (a lookup per connect would be measured
 * too). Of a name's several addresses, the first that accepts a connection
 * now, as curl would find it: `localhost` reaches a server listening on ::1
 * only. None answering: the first, and the run reports what happens to it.
 */
async function pickAddress(addresses: string[], port: number): Promise<string> {
  const [first, ...others] = addresses;
  if (first === undefined) throw new Error(`no address to connect to on port ${port}`);
  if (others.length === 0) return first;
  for (const address of addresses) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: address, port, timeout: 1000 });
      const done = (up: boolean) => {
        s.destroy();
        resolve(up);
      };
      s.once('connect', () => done(true));
      s.once('timeout', () => done(false));
      s.once('error', () => done(false));
    });
    if (ok) return address;
  }
  return first;
}

export async function startBench(o: BenchOptions): Promise<RunningBench> {
  let host: string;
  try {
    host = await pickAddress(await resolveHosts(o.target.host), o.target.port);
  } catch (err) {
    throw new Error(err instanceof Error ? err.message : String(err));
  }
  const warning = ensureFdLimit(o.connections);
  if (warning) process.stderr.write(`edgeloop bench: warning: ${warning}\n`);
  const live = new LiveCounters(o.threads);
  const configs = driverConfigs(o, host, live);
  let interrupted = false;
  const [only, ...more] = configs;
  if (only && more.length === 0) return startInline(o, only, live, () => interrupted, () => (interrupted = true));
  return startWorkers(o, configs, live, () => interrupted, () => (interrupted = true));
}

function startInline(
  o: BenchOptions,
  cfg: DriverConfig,
  live: LiveCounters,
  wasInterrupted: () => boolean,
  markInterrupted: () => void,
): RunningBench {
  const loop = new EventLoop({ name: 'bench-0' });
  const driver = new LoopDriver(loop, cfg);
  const result = (async () => {
    try {
      const snap = await driver.start(nowAbs());
      await driver.dispose();
      return buildResult(o, mergeSnapshots([snap]), wasInterrupted());
    } finally {
      loop.quit();
    }
  })();
  return {
    live,
    result,
    stop: () => {
      markInterrupted();
      driver.stop();
    },
  };
}

type FromWorker = { type: 'ready' } | { type: 'done'; snapshot: StatsSnapshot } | { type: 'error'; message: string };

function startWorkers(
  o: BenchOptions,
  configs: DriverConfig[],
  live: LiveCounters,
  wasInterrupted: () => boolean,
  markInterrupted: () => void,
): RunningBench {
  const entry = new URL('./worker.js', import.meta.url);
  const workers = configs.map((cfg) => new Worker(entry, { workerData: cfg }));
  const result = (async () => {
    try {
      let ready = 0;
      const snaps = await new Promise<StatsSnapshot[]>((resolve, reject) => {
        const out: StatsSnapshot[] = [];
        for (const w of workers) {
          w.on('message', (m: FromWorker) => {
            if (m.type === 'ready') {
              // Start together so the per-thread timelines share one origin.
              if (++ready === workers.length) {
                const startAbsMs = nowAbs();
                for (const x of workers) x.postMessage({ type: 'go', startAbsMs });
              }
            } else if (m.type === 'done') {
              out.push(m.snapshot);
              if (out.length === workers.length) resolve(out);
            } else {
              reject(new Error(`bench thread failed: ${m.message}`));
            }
          });
          w.on('error', (e) => reject(e));
          w.on('exit', (code) => {
            if (code !== 0) reject(new Error(`bench thread exited with code ${code}`));
          });
        }
      });
      return buildResult(o, mergeSnapshots(snaps), wasInterrupted());
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  })();
  return {
    live,
    result,
    stop: () => {
      markInterrupted();
      for (const w of workers) w.postMessage({ type: 'stop' });
    },
  };
}
