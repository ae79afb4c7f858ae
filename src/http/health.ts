/**
 * Health: the built-in route that answers load balancers and probes, and the
 * readiness checks an application registers. Thread: the route runs in every
 * loop thread (it reads the shared ServerState); HealthChecks runs on the
 * thread that called serve() and publishes its verdict to that state. Owns
 * the checks' timers.
 */
import type { HealthStatus, ServerState } from '../reactor/ServerState.js';
import type { Handler } from './options.js';

/** The route's contract: 200 while serving, 503 while draining or while a readiness check fails. */
export function healthResponse(h: HealthStatus): { status: number; body: string } {
  if (h.status === 'serving') return { status: 200, body: 'ok\n' };
  if (h.status === 'draining') return { status: 503, body: 'draining\n' };
  return { status: 503, body: `unready: ${h.failing.join(', ')}\n` };
}

export function withHealthRoute(app: Handler, path: string): Handler {
  return (req, res, ctx) => {
    if (req.path !== path) return app(req, res, ctx);
    const { status, body } = healthResponse(ctx.health());
    res.status(status).setHeader('Content-Type', 'text/plain').setHeader('Cache-Control', 'no-store').end(body);
  };
}

/** A readiness check: true (or a promise of true) when the dependency it watches is usable. */
export type HealthCheck = () => boolean | Promise<boolean>;

export interface CheckOptions {
  /** How often the check runs, in ms (default 1000). */
  interval?: number;
  /** A run that takes longer than this (ms) fails (default: the interval). */
  timeout?: number;
}

interface Registered {
  fn: HealthCheck;
  ok: boolean;
  timer: NodeJS.Timeout;
  running: boolean;
  timeout: number;
}

/**
 * Readiness checks: each runs every `interval` ms on this thread; while one
 * fails (returns false, throws, rejects or overruns its timeout), the health
 * route answers 503 and names it. A check counts as failing until its first
 * run passes, so a server is not reported ready before its checks say so.
 */
export class HealthChecks {
  private readonly checks = new Map<string, Registered>();

  constructor(private readonly state: ServerState) {}

  addCheck(name: string, fn: HealthCheck, opts: CheckOptions = {}): void {
    if (typeof name !== 'string' || name === '' || /[\n,]/.test(name)) throw new TypeError('addCheck: name must be a non-empty string without commas or newlines');
    if (typeof fn !== 'function') throw new TypeError('addCheck: fn must be a function returning a boolean or a promise of one');
    if (this.checks.has(name)) throw new Error(`addCheck: a check named '${name}' exists; removeCheck('${name}') first`);
    const interval = opts.interval ?? 1000;
    if (!(interval > 0 && interval < 2 ** 31)) throw new RangeError(`addCheck: interval must be a positive number of ms, got ${interval}`);
    const timeout = opts.timeout ?? interval;
    if (!(timeout > 0 && timeout < 2 ** 31)) throw new RangeError(`addCheck: timeout must be a positive number of ms, got ${timeout}`);
    const timer = setInterval(() => void this.run(name), interval);
    timer.unref(); // checks never keep a process alive on their own
    this.checks.set(name, { fn, ok: false, timer, running: false, timeout });
    this.publish();
    void this.run(name);
  }

  removeCheck(name: string): boolean {
    const c = this.checks.get(name);
    if (!c) return false;
    clearInterval(c.timer);
    this.checks.delete(name);
    this.publish();
    return true;
  }

  /** The server's health as the route reports it. */
  status(): HealthStatus {
    return this.state.health();
  }

  /** Stops every check (the server is stopping). */
  close(): void {
    for (const c of this.checks.values()) clearInterval(c.timer);
    this.checks.clear();
  }

  private async run(name: string): Promise<void> {
    const c = this.checks.get(name);
    if (!c || c.running) return;
    c.running = true;
    let ok = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const overrun = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), c.timeout);
      });
      ok = (await Promise.race([Promise.resolve().then(c.fn), overrun])) === true;
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
      c.running = false;
    }
    if (this.checks.get(name) !== c || c.ok === ok) return;
    c.ok = ok;
    this.publish();
  }

  private publish(): void {
    const failing: string[] = [];
    for (const [name, c] of this.checks) if (!c.ok) failing.push(name);
    this.state.setFailing(failing);
  }
}
