/**
 * A deliberately naive epoll server built on the raw binding, in the shape of
 * the field reports' servers: listener(s) and epoll instance(s) opened by the main
 * thread, N worker threads sharing those fds the way the field reports' forked
 * processes did, and a responder answering HTTP on the main thread.
 * Thread: the server process's main thread. Owns every fd it opens (listeners,
 * epoll instances, the responder and its connections) and the worker threads;
 * stop() closes all of them and checks that nothing is left.
 */
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { native, C } from '../../native/binding.js';
import { Counters, type WorkerCounts } from './counters.js';
import { WAIT_MS, type NaiveConfig, type WorkerSetup } from './config.js';
import { Responder } from './responder.js';
import { fdsOnPort, listenersOn, netFdCount, threadCount } from '../kernel.js';

export interface NaiveReport {
  workers: WorkerCounts[];
  /** Connections in the accept queue(s) when the server stopped: accepted by nobody. */
  leftInQueue: number;
  /** Requests answered by the responder. */
  responses: number;
  /** Worker threads that died of an uncaught error. */
  workerErrors: string[];
  cleanup: CleanupReport;
}

export interface CleanupReport {
  /** Connections accepted and closed at stop: the queue leftovers, plus any the responder still held. */
  closedAtStop: number;
  /** Sockets and epoll instances the process held before the server opened anything, and after stop. */
  fdsBefore: { sockets: number; epolls: number };
  fdsAfter: { sockets: number; epolls: number };
  threadsBefore: number;
  threadsAfter: number;
  /** TCP sockets on the port still held by this process after stop (must be 0). */
  socketsLeft: number;
  ok: boolean;
}

function check(r: number, what: string): number {
  if (r < 0) throw new Error(`${what}: ${native.strerror(r)}`);
  return r;
}

export class NaiveServer {
  private readonly counters: Counters;
  private readonly workers: Worker[] = [];
  private readonly listeners: number[] = [];
  private readonly epolls: number[] = [];
  private responder: Responder | null = null;
  /** Uncaught errors of worker threads: a worker that died stops counting, so the report must say so. */
  private readonly workerErrors: string[] = [];
  private readonly fdsBefore: { sockets: number; epolls: number };
  private readonly threadsBefore: number;
  port = 0;
  backlog = 0;

  private constructor(readonly config: NaiveConfig) {
    this.counters = new Counters(config.workers);
    this.fdsBefore = netFdCount();
    this.threadsBefore = threadCount();
  }

  static async start(config: NaiveConfig): Promise<NaiveServer> {
    const s = new NaiveServer(config);
    try {
      s.open();
      await s.spawnWorkers();
    } catch (err) {
      await s.stop().catch(() => undefined);
      throw err;
    }
    return s;
  }

  private listener(port: number): number {
    const c = this.config;
    const fd = check(native.socket(C.AF_INET), 'socket');
    this.listeners.push(fd);
    check(native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1), 'SO_REUSEADDR');
    if (c.topology === 'reuseport') check(native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1), 'SO_REUSEPORT');
    check(native.bind(fd, c.host, port), `bind ${c.host}:${port}`);
    check(native.listen(fd, c.backlog), 'listen');
    return fd;
  }

  private epoll(listenFd: number): number {
    const c = this.config;
    const ep = check(native.epollCreate(), 'epoll_create1');
    this.epolls.push(ep);
    const events = C.EPOLLIN | (c.edgeTriggered ? C.EPOLLET : 0) | (c.exclusive ? C.EPOLLEXCLUSIVE : 0);
    check(native.epollCtl(ep, C.EPOLL_CTL_ADD, listenFd, events, listenFd), 'epoll_ctl ADD listener');
    return ep;
  }

  private open(): void {
    const c = this.config;
    this.responder = new Responder();
    const first = this.listener(0);
    const name = native.getsockname(first);
    if (typeof name === 'number') throw new Error(`getsockname: ${native.strerror(name)}`);
    this.port = name.port;
    // Every reuseport listener must bind the one port the first got.
    if (c.topology === 'reuseport') {
      const others = Array.from({ length: c.workers - 1 }, () => this.listener(this.port));
      for (const fd of [first, ...others]) this.epoll(fd);
    } else if (c.topology === 'shared-epoll') this.epoll(first);
    else for (let i = 0; i < c.workers; i++) this.epoll(first);
    this.backlog = listenersOn(this.port)[0]?.backlog ?? c.backlog;
  }

  private async spawnWorkers(): Promise<void> {
    const c = this.config;
    const entry = new URL('./worker.js', import.meta.url);
    const responder = this.responder;
    if (!responder) throw new Error('the responder starts before the workers');
    const fd = (fds: number[], i: number, what: string): number => {
      const v = fds[i];
      if (v === undefined) throw new Error(`worker ${i} has no ${what}`);
      return v;
    };
    for (let i = 0; i < c.workers; i++) {
      const setup: WorkerSetup = {
        index: i,
        epfd: fd(this.epolls, c.topology === 'shared-epoll' ? 0 : i, 'epoll fd'),
        listenFd: fd(this.listeners, c.topology === 'reuseport' ? i : 0, 'listener'),
        responderEpfd: responder.epfd,
        accept: c.accept,
        slpMs: c.slpMs,
        counters: this.counters.sab,
        workers: c.workers,
      };
      const w = new Worker(entry, { workerData: setup });
      w.on('error', (err) => this.workerErrors.push(`worker ${i}: ${err.message}`));
      this.workers.push(w);
    }
    const deadline = Date.now() + 10_000;
    // Load must not start before every worker sits in epoll_wait, or the first burst meets fewer workers.
    while (this.counters.snapshot().some((w) => w.tid === 0)) {
      if (this.workerErrors.length > 0) throw new Error(`naive server: ${this.workerErrors[0]}`);
      if (Date.now() > deadline) throw new Error('naive server: workers did not start within 10 s');
      await sleep(5);
    }
    await sleep(WAIT_MS / 2);
  }

  private async joinWorkers(): Promise<void> {
    this.counters.requestStop();
    const limit = WAIT_MS + this.config.slpMs + 5_000;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            // A worker notices the flag within one epoll_wait timeout; terminate() is the fallback.
            const t = setTimeout(() => void w.terminate().then(() => resolve()), limit);
            w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }

  async stop(): Promise<NaiveReport> {
    await this.joinWorkers();
    const workers = this.counters.snapshot();
    const leftInQueue = this.port ? listenersOn(this.port).reduce((n, l) => n + l.queued, 0) : 0;
    let closedAtStop = 0;
    for (const l of this.listeners) {
      for (let fd = native.accept(l); fd >= 0; fd = native.accept(l)) {
        native.close(fd);
        closedAtStop++;
      }
    }
    const responses = this.responder?.responses ?? 0;
    closedAtStop += this.responder?.close() ?? 0;
    this.responder = null;
    for (const ep of this.epolls) native.close(ep);
    for (const l of this.listeners) native.close(l);
    this.epolls.length = 0;
    this.listeners.length = 0;
    // Registered with the responder but never heard from: closed here, and counted.
    if (this.port) {
      for (const fd of fdsOnPort(this.port)) {
        native.close(fd);
        closedAtStop++;
      }
    }
    const socketsLeft = this.port ? fdsOnPort(this.port).length : 0;
    const fdsAfter = netFdCount();
    const threadsAfter = threadCount();
    return {
      workers,
      leftInQueue,
      responses,
      workerErrors: [...this.workerErrors],
      cleanup: {
        closedAtStop,
        fdsBefore: this.fdsBefore,
        fdsAfter,
        threadsBefore: this.threadsBefore,
        threadsAfter,
        socketsLeft,
        ok:
          socketsLeft === 0 &&
          fdsAfter.sockets <= this.fdsBefore.sockets &&
          fdsAfter.epolls <= this.fdsBefore.epolls &&
          threadsAfter <= this.threadsBefore,
      },
    };
  }
}
