/**
 * The server under test, whichever kind, seen from the lab: started as a
 * child process, so that doctor looks at it alone, and stopped with a report
 * of per-worker counters and of its cleanup. Thread: main. Each handle owns
 * its child process.
 */
import http from 'node:http';
import type { ChildProcessWithoutNullStreams as ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { start, waitExit, waitForLine, CLI } from './children.js';
import { listenersOn, liveSocketsOn } from './kernel.js';
import type { NaiveConfig } from './naive/config.js';
import type { NaiveReport } from './naive/server.js';
import type { WorkerCounts } from './naive/counters.js';

export interface ServerCleanup {
  ok: boolean;
  /** What was checked, in words, for the report. */
  detail: string;
  /** Connections accepted and closed at stop (the accept-queue leftovers). */
  closedAtStop: number;
}

export interface StopReport {
  workers: WorkerCounts[];
  /** Connections in the accept queue(s) when the load was over: accepted by nobody. */
  leftInQueue: number;
  cleanup: ServerCleanup;
}

export interface ServerHandle {
  readonly pid: number;
  readonly port: number;
  /** The effective backlog of its listener(s). */
  readonly backlog: number;
  stop(): Promise<StopReport>;
}

const READY_MS = 20_000;
const NAIVE_MAIN = fileURLToPath(new URL('./naive/main.js', import.meta.url));

/** The port stays in the handle after the child is gone: check nothing of ours still listens or holds a connection there. */
function portClear(port: number): { ok: boolean; detail: string } {
  const listeners = listenersOn(port).length;
  // Orphaned FIN_WAIT/LAST_ACK sockets belong to the kernel, not to a process: only LISTEN and ESTABLISHED/CLOSE_WAIT count.
  const held = liveSocketsOn(port).filter((s) => s.state === 10 || s.state === 1 || s.state === 8).length;
  return { ok: listeners === 0 && held === 0, detail: `${listeners} listeners and ${held} connections left on port ${port}` };
}

/** A naive server's child process, seen from the lab. Thread: main. Owns the child. */
export class NaiveHandle implements ServerHandle {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly port: number,
    readonly backlog: number,
  ) {}

  static async start(config: NaiveConfig): Promise<NaiveHandle> {
    const child = start(NAIVE_MAIN, [JSON.stringify(config)]);
    try {
      const ready = await waitForLine(
        child,
        (line) => {
          const m = parse(line);
          if (m?.type === 'error') throw new Error(`naive server: ${String(m.message)}`);
          return m?.type === 'ready' ? m : undefined;
        },
        READY_MS,
        'naive server',
      );
      return new NaiveHandle(child, Number(ready.pid), Number(ready.port), Number(ready.backlog));
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  async stop(): Promise<StopReport> {
    const report = waitForLine(
      this.child,
      (line) => {
        const m = parse(line);
        return m?.type === 'report' ? (m as unknown as NaiveReport) : undefined;
      },
      30_000,
      'naive server report',
    );
    this.child.stdin.end('stop\n');
    let r: NaiveReport;
    try {
      r = await report;
    } finally {
      await waitExit(this.child, 10_000);
    }
    const port = portClear(this.port);
    const c = r.cleanup;
    const ok = c.ok && port.ok && r.workerErrors.length === 0;
    return {
      workers: r.workers,
      leftInQueue: r.leftInQueue,
      cleanup: {
        ok,
        closedAtStop: c.closedAtStop,
        detail:
          `${c.closedAtStop} connections closed at stop; sockets ${c.fdsBefore.sockets}→${c.fdsAfter.sockets}, ` +
          `epoll instances ${c.fdsBefore.epolls}→${c.fdsAfter.epolls}, threads ${c.threadsBefore}→${c.threadsAfter}; ` +
          `${port.detail}` +
          (r.workerErrors.length > 0 ? `; worker errors: ${r.workerErrors.join('; ')}` : ''),
      },
    };
  }
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface LoopStatsRow {
  loop: number;
  accepted: number;
  acceptWakeups: number;
  acceptEmptyWakeups: number;
}

/** `edgeloop serve` as a child process, with its defaults except the loop count. Thread: main. Owns the child. */
export class EdgeloopHandle implements ServerHandle {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly port: number,
    readonly backlog: number,
  ) {}

  static async start(loops: number): Promise<EdgeloopHandle> {
    const c = start(CLI, ['serve', '--port', '0', '--loops', String(loops)]);
    try {
      const m = await waitForLine(
        c,
        (line) => /^listening on http:\/\/[^\s]+:(\d+) \(.*backlog=(\d+)\)/.exec(line) ?? undefined,
        READY_MS,
        'edgeloop serve',
      );
      // A spawned child that printed a line has a pid; the check is for the type.
      if (c.pid === undefined) throw new Error('edgeloop serve has no pid');
      return new EdgeloopHandle(c, c.pid, Number(m[1]), Number(m[2]));
    } catch (err) {
      c.kill('SIGKILL');
      throw err;
    }
  }

  async stop(): Promise<StopReport> {
    const leftInQueue = listenersOn(this.port).reduce((n, l) => n + l.queued, 0);
    let workers: WorkerCounts[] = [];
    let statsError = '';
    try {
      const body = JSON.parse(await get(this.port, '/stats')) as { servedBy: number; stats: LoopStatsRow[] };
      workers = body.stats.map((s) => ({
        worker: s.loop,
        tid: 0,
        // The /stats request itself was accepted by the loop that answered it.
        accepted: s.accepted - (s.loop === body.servedBy ? 1 : 0),
        wakeups: s.acceptWakeups,
        // edgeloop drains to EAGAIN: only a wakeup that found nothing at all is spurious.
        eagain: s.acceptEmptyWakeups,
        errors: 0,
      }));
    } catch (err) {
      statsError = `; /stats failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.child.kill('SIGTERM');
    const exited = await waitExit(this.child, 10_000);
    const port = portClear(this.port);
    return {
      workers,
      leftInQueue,
      cleanup: {
        ok: exited && port.ok && statsError === '',
        closedAtStop: 0,
        detail: `${exited ? 'exited on SIGTERM' : 'killed after 10 s'}; ${port.detail}${statsError}`,
      },
    };
  }
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
