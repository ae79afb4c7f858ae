/**
 * A TCP server over a pool of EventLoops. Thread: the thread that creates it
 * (with `loops: 1` its single loop runs right here; with more, each loop runs
 * on its own worker thread). Owns the listen fds it creates, the workers, and
 * the shared memory for their statistics.
 *
 * Accept strategies (pitfall 5):
 * - reuseport (default): one SO_REUSEPORT listener per loop; the kernel spreads
 *   connections and no loop is woken for another's connection.
 * - exclusive: one listener registered in every loop with EPOLLEXCLUSIVE.
 * - dispatcher: one acceptor on this thread hands fds to the I/O loops through
 *   their LoopQueues (round-robin or least-connections).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { native } from '../native/binding.js';
import { EventLoop } from './EventLoop.js';
import { Acceptor, logFdShortage, type FdShortage } from './Acceptor.js';
import { listenTcp, resolveHost, validatePort, type Listening } from './Listener.js';
import { LoopQueue, QueueMsg } from './LoopQueue.js';
import { LoopStats, S, type LoopStatsSnapshot } from './LoopStats.js';
import { ServerLoop, type ConnectionOptions, type ServerHandlers, type ServerContext, type SetupFn } from './ServerLoop.js';
import { moduleHref, setupFromModule } from './loadModule.js';
import type { LoopThreadData, LoopThreadMessage } from './loopThread.js';
import { resolveTlsServer, type TlsServerConfig, type TlsServerOptions } from './tls/options.js';

export type AcceptStrategy = 'reuseport' | 'exclusive' | 'dispatcher';
export type DispatchPolicy = 'round-robin' | 'least-connections';
export const ACCEPT_STRATEGIES: readonly AcceptStrategy[] = ['reuseport', 'exclusive', 'dispatcher'];

export interface TcpServerOptions {
  host?: string;
  port: number;
  /** Number of loops; default: the CPU count. 1 runs on the calling thread with no worker. */
  loops?: number;
  accept?: AcceptStrategy;
  dispatch?: DispatchPolicy;
  /** Default: net.core.somaxconn (the kernel maximum). */
  backlog?: number;
  /** loops: 1 only: handlers living on this thread. */
  handlers?: ServerHandlers;
  /** loops: 1 only: a setup function called on this thread. */
  setup?: SetupFn;
  /** A module loaded in every loop thread; its default (or `setup`) export builds the handlers. */
  module?: string | URL;
  moduleOptions?: unknown;
  noDelay?: boolean;
  idleTimeout?: number;
  edgeTriggered?: boolean;
  maxAcceptsPerWakeup?: number;
  /**
   * Called on this thread for each episode of fd shortage (EMFILE...: accepting paused, the
   * connections waiting in the listen queue), when it is over and every 30 s while it lasts.
   * Default: one warning line per report.
   */
  onFdShortage?: (report: FdShortage) => void;
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2, HAProxy's send-proxy):
   * conn.remoteAddress() is then the client the balancer saw. A connection without a complete,
   * valid header within proxyHeaderTimeout is closed unserved. Only for listeners that nothing
   * but the balancer can reach: the header is believed.
   */
  proxyProtocol?: boolean;
  /** Milliseconds to receive the PROXY header (default 5000; the specification asks for at least 3 s). */
  proxyHeaderTimeout?: number;
  /** TLS on every connection: { cert, key } PEM, and optionally ca, sni, alpn, requestCert. */
  tls?: TlsServerOptions;
  /** What a protocol layer on top wants by default (serve(): ALPN http/1.1 and a 400 for plain HTTP). */
  tlsDefaults?: { alpn?: string[]; plainHttpReply?: string };
}

export interface ServerInfo {
  host: string;
  port: number;
  /** Effective backlog: min(asked, net.core.somaxconn). */
  backlog: number;
  backlogTruncatedFrom?: number;
  loops: number;
  accept: AcceptStrategy;
}

const loopThreadUrl = new URL('./loopThread.js', import.meta.url);

/**
 * Waits for every loop thread's start-up. Rejects with the first failure, but
 * only once the others have settled too (or after graceMs): a thread still
 * loading its module cannot be stopped cleanly yet.
 */
function settleAll(ready: Promise<void>[], graceMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let pending = ready.length;
    let failed: { err: unknown } | undefined;
    let grace: NodeJS.Timeout | undefined;
    const end = (): void => {
      clearTimeout(grace);
      if (failed) reject(failed.err);
      else resolve();
    };
    const settled = (): void => {
      if (--pending === 0) end();
    };
    if (pending === 0) return end();
    for (const p of ready) {
      p.then(settled, (err: unknown) => {
        if (!failed) {
          failed = { err };
          grace = setTimeout(end, graceMs);
        }
        settled();
      });
    }
  });
}

export class TcpServer {
  private readonly opts: TcpServerOptions;
  private readonly loops: number;
  private readonly strategy: AcceptStrategy;
  private statsSab: SharedArrayBuffer | undefined;
  private listeners: Listening[] = [];
  private workers: Worker[] = [];
  private local: { loop: EventLoop; server?: ServerLoop; acceptor?: Acceptor } | undefined;
  private queues: LoopQueue[] = [];
  private rr = 0;
  private state: 'new' | 'starting' | 'listening' | 'stopping' | 'stopped' = 'new';
  private infoValue: ServerInfo | undefined;
  /** The one start-up, so a stop() arriving during it can wait for it to unwind. */
  private starting: Promise<ServerInfo> | undefined;
  /** The one stop: every caller of stop() waits for the same end. */
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  /** Workers whose thread has ended: no 'exit' event will come for them again. */
  private readonly exited = new WeakSet<Worker>();
  private tlsConfig: TlsServerConfig | undefined;

  constructor(opts: TcpServerOptions) {
    this.opts = opts;
    validatePort(opts.port);
    const loops = opts.loops ?? os.availableParallelism();
    if (!Number.isInteger(loops) || loops < 1 || loops > 1024) throw new RangeError(`invalid loops ${loops}: must be an integer from 1 to 1024`);
    this.loops = loops;
    const strategy = opts.accept ?? 'reuseport';
    if (!ACCEPT_STRATEGIES.includes(strategy)) throw new RangeError(`invalid accept strategy '${strategy}': use reuseport, exclusive or dispatcher`);
    this.strategy = strategy;
    const pht = opts.proxyHeaderTimeout;
    if (pht !== undefined && !(typeof pht === 'number' && pht > 0 && pht < 2 ** 31)) {
      throw new RangeError(`invalid proxyHeaderTimeout ${String(pht)}: must be a positive number of milliseconds`);
    }
    if (opts.proxyProtocol !== undefined && typeof opts.proxyProtocol !== 'boolean') {
      throw new TypeError(`invalid proxyProtocol ${String(opts.proxyProtocol)}: must be true or false`);
    }
    if (opts.backlog !== undefined && (!Number.isInteger(opts.backlog) || opts.backlog < 0)) {
      throw new RangeError(`invalid backlog ${opts.backlog}: must be a non-negative integer`);
    }
    const sources = [opts.handlers, opts.setup, opts.module].filter((x) => x !== undefined).length;
    if (sources !== 1) throw new TypeError('TcpServer needs exactly one of handlers, setup or module');
    if (loops > 1 && !opts.module) {
      throw new TypeError('with loops > 1 the handlers must come from a module loaded in every loop thread: pass { module: new URL("./handlers.js", import.meta.url) }');
    }
    if (opts.tls !== undefined) {
      // The PROXY header comes before the ClientHello, in the clear: the TLS session would have to
      // start after the header gate, which is not built yet.
      if (opts.proxyProtocol) throw new TypeError('tls cannot be combined with proxyProtocol yet: terminate TLS at the balancer, or serve without the PROXY header');
      this.tlsConfig = resolveTlsServer(opts.tls, opts.tlsDefaults);
    }
  }

  get secure(): boolean {
    return this.tlsConfig !== undefined;
  }

  /**
   * Replaces the certificates (and SNI, CA, ALPN) for new handshakes in every
   * loop; live connections continue with theirs. Session tickets stay valid.
   * Rejects, keeping the old certificates, when the new ones do not load.
   */
  async setSecureContext(tls: TlsServerOptions): Promise<void> {
    if (this.tlsConfig === undefined) throw new Error('setSecureContext: this server was started without tls');
    if (this.state !== 'listening') throw new Error(`setSecureContext: the server is ${this.state}`);
    const cfg = { ...resolveTlsServer(tls, this.opts.tlsDefaults), ticketKeys: this.tlsConfig.ticketKeys };
    this.local?.server?.setSecureContext(cfg);
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const onMsg = (m: LoopThreadMessage): void => {
              if (m.type !== 'tls-set') return;
              w.off('message', onMsg);
              if (m.error) reject(new Error(m.error));
              else resolve();
            };
            w.on('message', onMsg);
            w.postMessage({ type: 'tls', tls: cfg });
          }),
      ),
    );
    this.tlsConfig = cfg;
  }

  get info(): ServerInfo | undefined {
    return this.infoValue;
  }

  /** Counters of every loop, read from shared memory. */
  stats(): LoopStatsSnapshot[] {
    return this.statsSab ? LoopStats.readAll(this.statsSab) : [];
  }

  listen(): Promise<ServerInfo> {
    if (this.state !== 'new') return Promise.reject(new Error(`TcpServer.listen(): the server is ${this.state}`));
    this.state = 'starting';
    this.starting = this.start();
    return this.starting;
  }

  private async start(): Promise<ServerInfo> {
    try {
      const host = await resolveHost(this.opts.host ?? '127.0.0.1');
      const extra = this.loops > 1 && this.strategy === 'dispatcher' ? 1 : 0;
      this.statsSab = LoopStats.allocate(this.loops + extra);
      const first = this.listenOne(host, this.opts.port, true);
      if (this.loops > 1 && this.strategy === 'reuseport') {
        for (let i = 1; i < this.loops; i++) this.listenOne(host, first.port, false);
      }
      this.infoValue = {
        host,
        port: first.port,
        backlog: first.backlog,
        loops: this.loops,
        accept: this.strategy,
        ...(first.backlogTruncatedFrom ? { backlogTruncatedFrom: first.backlogTruncatedFrom } : {}),
      };
      if (this.loops === 1) await this.startLocal(first);
      else await this.startWorkers();
      // stop() came while we were starting: undo it all rather than report a server that is about to go away.
      if (this.stopRequested) throw Object.assign(new Error('TcpServer.listen(): the server was stopped before it was listening'), { code: 'ERR_SERVER_STOPPED' });
      this.state = 'listening';
      return this.infoValue;
    } catch (err) {
      await this.cleanupAfterFailure();
      this.state = 'stopped';
      throw err;
    }
  }

  private listenOne(host: string, port: number, newGroup: boolean): Listening {
    const reusePort = this.loops > 1 && this.strategy === 'reuseport';
    const l = listenTcp({ host, port, backlog: this.opts.backlog, reusePort, newGroup });
    this.listeners.push(l);
    return l;
  }

  private async startLocal(l: Listening): Promise<void> {
    const loop = new EventLoop({ index: 0, statsBuffer: this.statsSab! });
    this.local = { loop };
    const ctx: ServerContext = { loop, index: 0, loops: 1, options: this.opts.moduleOptions, stats: () => this.stats() };
    const handlers =
      this.opts.handlers ??
      (this.opts.setup ? await this.opts.setup(ctx) : await setupFromModule(moduleHref(this.opts.module!), ctx));
    const onFdShortage = this.opts.onFdShortage;
    const server = new ServerLoop(loop, handlers, { ...this.connOpts(), ...(onFdShortage ? { onFdShortage } : {}) });
    this.local.server = server;
    const acceptor = server.addAcceptor(l.fd, { ownsFd: true });
    this.listeners = []; // the acceptor owns the fd now
    this.local.acceptor = acceptor;
  }

  /** The per-connection options every loop applies (structured-clonable: no functions). */
  private connOpts(): ConnectionOptions {
    const { noDelay, idleTimeout, edgeTriggered, maxAcceptsPerWakeup, proxyProtocol, proxyHeaderTimeout } = this.opts;
    const plain = JSON.parse(
      JSON.stringify({ noDelay, idleTimeout, edgeTriggered, maxAcceptsPerWakeup, proxyProtocol, proxyHeaderTimeout }),
    ) as ConnectionOptions;
    return this.tlsConfig ? { ...plain, tls: this.tlsConfig } : plain;
  }

  private async startWorkers(): Promise<void> {
    const href = moduleHref(this.opts.module!);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.loops; i++) {
      let listenFd = -1;
      let queue: LoopQueue | undefined;
      if (this.strategy === 'reuseport') listenFd = this.listeners[i]!.fd;
      else if (this.strategy === 'exclusive') listenFd = this.listeners[0]!.fd;
      else {
        queue = LoopQueue.create();
        this.queues.push(queue);
      }
      const data: LoopThreadData = {
        index: i,
        loops: this.loops,
        module: href,
        moduleOptions: this.opts.moduleOptions,
        statsSab: this.statsSab!,
        strategy: this.strategy,
        listenFd,
        queue: queue?.handle,
        conn: this.connOpts(),
      };
      const w = new Worker(fileURLToPath(loopThreadUrl), { workerData: data, name: `edgeloop-loop-${i}` });
      this.workers.push(w);
      w.once('exit', () => this.exited.add(w));
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMsg = (m: LoopThreadMessage): void => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error') reject(Object.assign(new Error(m.message), { code: m.code }));
            else if (m.type === 'fdShortage') this.fdShortage(`edgeloop-loop-${i}`, m.report);
          };
          w.on('message', onMsg);
          w.once('error', reject);
          // After start-up a thread can still die (out of memory, process.exit in a handler): say so, loudly.
          w.on('error', (err) => console.error(`edgeloop: loop thread ${i} failed:`, err));
          w.once('exit', (code) => reject(new Error(`loop thread ${i} exited with code ${code} before it was ready`)));
        }),
      );
    }
    // reuseport: each worker owns its listener fd from here on (and closes it if its setup fails).
    if (this.strategy === 'reuseport') this.listeners = [];
    await settleAll(ready, 2000);
    if (this.strategy === 'dispatcher') this.startDispatcher();
  }

  private startDispatcher(): void {
    const l = this.listeners[0]!;
    const loop = new EventLoop({ index: this.loops, statsBuffer: this.statsSab!, name: 'edgeloop-dispatcher' });
    const actives = this.queues.map((_, i) => new LoopStats(i, this.statsSab!));
    const acceptor = new Acceptor(loop, l.fd, {
      ownsFd: false,
      onNewConnection: (fd) => {
        const target = this.pickLoop(actives);
        if (!this.queues[target]!.post(QueueMsg.NewConnection, fd)) {
          // Ring full: the loops are far behind; shedding beats unbounded memory.
          native.close(fd);
          loop.stats.c[S.shed]!++;
        }
      },
      onFdShortage: (r) => this.fdShortage(loop.name, r),
    });
    acceptor.listen();
    this.local = { loop, acceptor };
  }

  private fdShortage(where: string, r: FdShortage): void {
    if (this.opts.onFdShortage) this.opts.onFdShortage(r);
    else logFdShortage(where, r);
  }

  private pickLoop(stats: LoopStats[]): number {
    if (this.opts.dispatch === 'least-connections') {
      let best = 0;
      let bestLoad = Infinity;
      for (let i = 0; i < stats.length; i++) {
        const load = stats[i]!.c[S.active]! + this.queues[i]!.length;
        if (load < bestLoad) {
          bestLoad = load;
          best = i;
        }
      }
      return best;
    }
    this.rr = (this.rr + 1) % this.queues.length;
    return this.rr;
  }

  /**
   * Graceful stop: stop accepting, let connections finish, force-close what is
   * left after `timeout` ms. Resolves when every loop has stopped.
   */
  stop(opts: { timeout?: number } = {}): Promise<void> {
    this.stopping ??= this.stopOnce(opts.timeout ?? 5000);
    return this.stopping;
  }

  private async stopOnce(timeout: number): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    if (this.state === 'starting') {
      // listen() sees the request when its start-up settles and unwinds everything itself.
      this.stopRequested = true;
      await this.starting?.catch(() => undefined);
      return;
    }
    this.state = 'stopping';
    if (this.local?.acceptor && this.strategy === 'dispatcher' && this.loops > 1) {
      this.local.acceptor.acceptPending(Number.MAX_SAFE_INTEGER);
      this.local.acceptor.close();
    }
    if (this.local?.server) await this.local.server.stop(timeout);
    await Promise.all(this.workers.map((w) => this.stopWorker(w, timeout)));
    this.workers = [];
    this.local?.loop.quit();
    this.local = undefined;
    for (const q of this.queues) native.close(q.eventfd);
    this.queues = [];
    for (const l of this.listeners) native.close(l.fd);
    this.listeners = [];
    this.state = 'stopped';
  }

  private stopWorker(w: Worker, timeout: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        resolve();
      };
      const guard = setTimeout(() => {
        void w.terminate().then(finish, finish);
      }, timeout + 2000);
      if (this.exited.has(w) || w.threadId === -1) return finish();
      w.once('exit', finish);
      w.on('message', (m: LoopThreadMessage) => {
        // The loop is stopped; user modules may still hold timers or handles.
        if (m.type === 'stopped') void w.terminate().then(finish, finish);
      });
      w.postMessage({ type: 'stop', timeout });
    });
  }

  /**
   * Undoes a start-up that failed or was stopped. Loop threads that came up
   * are stopped the ordinary way (terminate() would leave their listen, epoll
   * and reserve fds open, and the port bound); threads whose setup failed have
   * closed theirs and exited.
   */
  private async cleanupAfterFailure(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.stopWorker(w, 0)));
    this.workers = [];
    this.local?.acceptor?.close();
    if (this.local?.loop.isRunning) this.local.loop.quit();
    this.local = undefined;
    for (const q of this.queues) native.close(q.eventfd);
    this.queues = [];
    for (const l of this.listeners) native.close(l.fd);
    this.listeners = [];
  }
}
