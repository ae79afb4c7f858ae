/**
 * A TCP server over a pool of EventLoops. Thread: the thread that creates it
 * (with `loops: 1` its single loop runs right here; with more, each loop runs
 * on its own worker thread). Owns the listen fds (created or adopted) for its
 * whole life, the current generation of loops (workers, queues, the shared
 * memory for their statistics) and the state every loop reads (draining,
 * readiness).
 *
 * A reload starts a new generation of loop threads on the same listen fds and
 * drains the old one: the listen sockets are never closed, so nothing queued
 * on them is lost. A final stop drops new SYNs first, lets the loops empty
 * their accept queues, and only then closes the listen fds.
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
import { native, C } from '../native/binding.js';
import { EventLoop } from './EventLoop.js';
import { Acceptor, logFdShortage, type FdShortage } from './Acceptor.js';
import { listenTcp, resolveHost, somaxconn, validatePort } from './Listener.js';
import { LoopQueue, QueueMsg } from './LoopQueue.js';
import { LoopStats, S, type LoopStatsSnapshot } from './LoopStats.js';
import { ServerLoop, type ConnectionOptions, type ServerHandlers, type ServerContext, type SetupFn, type SniCertificate } from './ServerLoop.js';
import { moduleHref, setupFromModule } from './loadModule.js';
import type { LoopThreadData, LoopThreadMessage } from './loopThread.js';
import { resolveTlsServer, sniAnswer, type SniCallback, type TlsServerConfig, type TlsServerOptions } from './tls/options.js';
import { ServerState } from './ServerState.js';
import { SysError } from '../native/errors.js';
import { steerToFirst, stopNewConnections } from './bpf.js';
import { ControlServer, requestHandover, type Handover } from './control.js';

export type AcceptStrategy = 'reuseport' | 'exclusive' | 'dispatcher';
export type DispatchPolicy = 'round-robin' | 'least-connections';
export const ACCEPT_STRATEGIES: readonly AcceptStrategy[] = ['reuseport', 'exclusive', 'dispatcher'];

export interface TcpServerOptions {
  host?: string;
  /** Required unless listenFds is given. */
  port?: number;
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
  /**
   * Listen sockets to serve on instead of creating them (received from the
   * process this one takes over): bound, listening, and owned by this server
   * from now on. With reuseport they are spread over the loops.
   */
  listenFds?: number[];
  /**
   * A Unix socket path for process takeover. listen() first asks a server
   * already listening there for its listen sockets; if one answers, this
   * server serves on them and then tells the old one to drain and exit (the
   * port never closes). Either way this server then listens on the path for
   * the next one. Taken over, it stops like stop({ handover: true }) and
   * `closed` resolves.
   */
  control?: string;
  /** ms a server taken over gives its connections to finish (default 5000). */
  handoverTimeout?: number;
}

export interface StopOptions {
  /** Milliseconds in-flight requests may take before their connections are closed (default 5000). */
  timeout?: number;
  /**
   * Milliseconds to keep accepting and serving while the server says it is
   * draining (health checks fail, responses close their connections) so a load
   * balancer moves away first. Default 0.
   */
  drainDelay?: number;
  /**
   * The listen sockets live on in another process (a takeover): leave them as
   * they are instead of shutting new connections out. Only this process's
   * descriptors are closed.
   */
  handover?: boolean;
}

/** How long a listener keeps taking handshakes already under way after new SYNs are dropped. */
const HANDSHAKE_SETTLE_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One set of loops serving the listen fds; a reload replaces it with a fresh one. */
interface Generation {
  statsSab: SharedArrayBuffer;
  workers: Worker[];
  local: { loop: EventLoop; server?: ServerLoop; acceptor?: Acceptor } | undefined;
  queues: LoopQueue[];
}

interface WorkerStop {
  /** The loop has emptied its accept queues and left the listeners. */
  released: Promise<void>;
  /** The loop has finished (or given up on) its connections and quit. */
  stopped: Promise<void>;
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
  /** Draining and readiness, read by every loop of every generation. */
  readonly state = new ServerState();
  private readonly opts: TcpServerOptions;
  private readonly loops: number;
  private readonly strategy: AcceptStrategy;
  private listenFds: number[] = [];
  private gen: Generation | undefined;
  /**
   * Two counter buffers that generations take in turn: a reload's new loops
   * write the one the old loops do not, and every reader sums both, so no
   * counter goes backwards across reloads (a generation reuses a buffer only
   * once the one before it there has stopped: reloads run one at a time).
   * They stay readable after stop().
   */
  private statsSabs: readonly SharedArrayBuffer[] = [];
  private rr = 0;
  private status: 'new' | 'starting' | 'listening' | 'stopping' | 'stopped' = 'new';
  private infoValue: ServerInfo | undefined;
  /** The one start-up, so a stop() arriving during it can wait for it to unwind. */
  private starting: Promise<ServerInfo> | undefined;
  /** The one stop: every caller of stop() waits for the same end. */
  private stopping: Promise<void> | undefined;
  /** Reloads run one after another; stop() waits for the one under way. */
  private reloading: Promise<unknown> = Promise.resolve();
  private stopRequested = false;
  private control: ControlServer | undefined;
  private handover: Handover | undefined;
  private resolveClosed!: () => void;
  /** Resolves once the server has stopped, for whatever reason (stop(), a takeover, a failed start). */
  readonly closed = new Promise<void>((r) => (this.resolveClosed = r));
  /** Set when another process took this server's listeners over (through the control socket). */
  takenOver = false;
  /** Workers whose thread has ended: no 'exit' event will come for them again. */
  private readonly exited = new WeakSet<Worker>();
  private tlsConfig: TlsServerConfig | undefined;
  /** tls.sni as a callback: it runs on this thread; loops ask through askSni (workers by message). */
  private sniCallback: SniCallback | undefined;

  constructor(opts: TcpServerOptions) {
    this.opts = opts;
    if (opts.listenFds !== undefined) {
      if (!Array.isArray(opts.listenFds) || opts.listenFds.length === 0 || !opts.listenFds.every((fd) => Number.isInteger(fd) && fd >= 0)) {
        throw new TypeError('listenFds must be a non-empty array of file descriptors');
      }
    } else {
      validatePort(opts.port);
    }
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
      this.sniCallback = typeof opts.tls.sni === 'function' ? opts.tls.sni : undefined;
    }
  }

  get secure(): boolean {
    return this.tlsConfig !== undefined;
  }

  /**
   * Replaces the certificates (and SNI, CA, ALPN) for new handshakes in every
   * loop; live connections continue with theirs. Session tickets stay valid.
   * Rejects, keeping the old certificates, when the new ones do not load.
   * Runs in turn with reloads, so a generation being drained is never asked.
   */
  setSecureContext(tls: TlsServerOptions): Promise<void> {
    const next = this.reloading.catch(() => undefined).then(() => this.setSecureContextNow(tls));
    this.reloading = next;
    return next;
  }

  private async setSecureContextNow(tls: TlsServerOptions): Promise<void> {
    if (this.tlsConfig === undefined) throw new Error('setSecureContext: this server was started without tls');
    if (this.status !== 'listening') throw new Error(`setSecureContext: the server is ${this.status}`);
    const cfg = { ...resolveTlsServer(tls, this.opts.tlsDefaults), ticketKeys: this.tlsConfig.ticketKeys };
    this.sniCallback = typeof tls.sni === 'function' ? tls.sni : undefined;
    const gen = this.gen;
    gen?.local?.server?.setSecureContext(cfg);
    await Promise.all(
      (gen?.workers ?? []).map(
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

  /** The listen fds this server serves on (to hand to a process taking over). */
  /** A dispatcher thread hands connections to the loops (with one loop, that loop accepts itself). */
  private get dispatching(): boolean {
    return this.strategy === 'dispatcher' && this.loops > 1;
  }

  get listeners(): readonly number[] {
    return this.listenFds;
  }

  /** Counters of every loop since listen(), reloads included, read from shared memory. */
  stats(): LoopStatsSnapshot[] {
    return this.statsSabs.length > 0 ? LoopStats.readAll(this.statsSabs) : [];
  }

  listen(): Promise<ServerInfo> {
    if (this.status !== 'new') return Promise.reject(new Error(`TcpServer.listen(): the server is ${this.status}`));
    this.status = 'starting';
    this.starting = this.start();
    return this.starting;
  }

  private async start(): Promise<ServerInfo> {
    try {
      const control = this.opts.control;
      this.handover = control !== undefined ? await requestHandover(control) : undefined;
      const fds = this.handover?.fds ?? this.opts.listenFds;
      this.infoValue = fds ? this.adopt(fds) : await this.create();
      this.gen = await this.startGeneration(this.loops === 1 ? 'local' : 'workers');
      // stop() came while we were starting: undo it all rather than report a server that is about to go away.
      if (this.stopRequested) throw Object.assign(new Error('TcpServer.listen(): the server was stopped before it was listening'), { code: 'ERR_SERVER_STOPPED' });
      if (control !== undefined) {
        this.control = new ControlServer(control, {
          listeners: () => ({ fds: this.listenFds, loops: this.loops, accept: this.strategy }),
          drain: () => this.handedOver(),
        });
      }
      this.status = 'listening';
      const handover = this.handover;
      this.handover = undefined;
      // We serve on the sockets now: the old server may leave them. If it cannot be told, we serve anyway.
      if (handover) {
        await handover.finish().catch((err: unknown) => {
          console.error(`edgeloop: serving on the listen sockets of pid ${handover.pid}, but it could not be told to drain: ${(err as Error).message}`);
        });
      }
      return this.infoValue;
    } catch (err) {
      this.handover?.abort();
      this.handover = undefined;
      await this.cleanupAfterFailure();
      this.status = 'stopped';
      this.resolveClosed();
      throw err;
    }
  }

  private async create(): Promise<ServerInfo> {
    const host = await resolveHost(this.opts.host ?? '127.0.0.1');
    const reusePort = this.loops > 1 && this.strategy === 'reuseport';
    const first = listenTcp({ host, port: this.opts.port ?? 0, backlog: this.opts.backlog, reusePort, newGroup: true });
    this.listenFds.push(first.fd);
    if (reusePort) {
      for (let i = 1; i < this.loops; i++) this.listenFds.push(listenTcp({ host, port: first.port, backlog: this.opts.backlog, reusePort, newGroup: false }).fd);
      // Our sockets are the group's first ones: steer every connection to them, none to a socket that joins later.
      steerToFirst(first.fd, this.loops);
    }
    return {
      host,
      port: first.port,
      backlog: first.backlog,
      loops: this.loops,
      accept: this.strategy,
      ...(first.backlogTruncatedFrom ? { backlogTruncatedFrom: first.backlogTruncatedFrom } : {}),
    };
  }

  /** Takes over listen sockets from another process; listen() again applies this server's backlog. */
  private adopt(fds: number[]): ServerInfo {
    this.listenFds = [...fds];
    const max = somaxconn();
    const asked = this.opts.backlog ?? max;
    let where: { address: string; port: number } | undefined;
    for (const fd of fds) {
      if (native.getsockopt(fd, C.SOL_SOCKET!, C.SO_ACCEPTCONN!) !== 1) {
        throw Object.assign(new Error(`listen fd ${fd} handed over is not a listening socket`), { code: 'EINVAL' });
      }
      const r = native.listen(fd, asked);
      if (r < 0) throw new SysError(r, 'listen', `on the listen fd ${fd} handed over`);
      const name = native.getsockname(fd);
      if (typeof name === 'number') throw new SysError(name, 'getsockname', `on the listen fd ${fd} handed over`);
      where ??= name;
    }
    return {
      host: where!.address,
      port: where!.port,
      backlog: Math.min(asked, max),
      loops: this.loops,
      accept: this.strategy,
      ...(asked > max ? { backlogTruncatedFrom: asked } : {}),
    };
  }

  /**
   * Starts a set of loops on the listen fds: 'local' runs one loop on this
   * thread, 'workers' one thread per loop. A failure stops what came up and
   * leaves the listen fds alone.
   */
  private async startGeneration(kind: 'local' | 'workers'): Promise<Generation> {
    if (this.statsSabs.length === 0) {
      // One slab per loop, and one for the dispatcher's own loop.
      const slabs = this.loops + (this.dispatching ? 1 : 0);
      this.statsSabs = [LoopStats.allocate(slabs), LoopStats.allocate(slabs)];
    }
    const statsSab = this.statsSabs.find((s) => s !== this.gen?.statsSab)!;
    const gen: Generation = { statsSab, workers: [], local: undefined, queues: [] };
    try {
      if (kind === 'local') await this.startLocal(gen);
      else {
        await this.startWorkers(gen);
        if (this.dispatching) this.startDispatcher(gen);
      }
      return gen;
    } catch (err) {
      await this.stopGeneration(gen, 0);
      throw err;
    }
  }

  private async startLocal(gen: Generation): Promise<void> {
    const loop = new EventLoop({ index: 0, statsBuffer: gen.statsSab });
    gen.local = { loop };
    const ctx: ServerContext = { loop, index: 0, loops: 1, options: this.opts.moduleOptions, stats: () => LoopStats.readAll(this.statsSabs), state: this.state };
    const handlers =
      this.opts.handlers ??
      (this.opts.setup ? await this.opts.setup(ctx) : await setupFromModule(moduleHref(this.opts.module!), ctx));
    const onFdShortage = this.opts.onFdShortage;
    const server = new ServerLoop(loop, handlers, { ...this.connOpts(), askSni: this.askSni, ...(onFdShortage ? { onFdShortage } : {}) });
    gen.local.server = server;
    for (const fd of this.listenFds) server.addAcceptor(fd, { ownsFd: false });
  }

  /** Runs the SNI callback (on this thread) for a loop; the certificate comes back as PEM bytes. */
  private readonly askSni = async (name: string): Promise<SniCertificate | null> => {
    const fn = this.sniCallback;
    return fn === undefined ? null : sniAnswer(name, await fn(name));
  };

  /** The per-connection options every loop applies (structured-clonable: no functions). */
  private connOpts(): ConnectionOptions {
    const { noDelay, idleTimeout, edgeTriggered, maxAcceptsPerWakeup, proxyProtocol, proxyHeaderTimeout } = this.opts;
    const plain = JSON.parse(
      JSON.stringify({ noDelay, idleTimeout, edgeTriggered, maxAcceptsPerWakeup, proxyProtocol, proxyHeaderTimeout }),
    ) as ConnectionOptions;
    return this.tlsConfig ? { ...plain, tls: this.tlsConfig } : plain;
  }

  /** The listen fds loop i accepts on: its share with reuseport, the one shared fd otherwise. */
  private fdsFor(i: number): number[] {
    const fds = this.listenFds;
    if (this.dispatching) return [];
    if (this.strategy === 'exclusive') return fds;
    const mine = fds.filter((_, j) => j % this.loops === i);
    return mine.length > 0 ? mine : [fds[i % fds.length]!];
  }

  private async startWorkers(gen: Generation): Promise<void> {
    const href = moduleHref(this.opts.module!);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.loops; i++) {
      let queue: LoopQueue | undefined;
      if (this.dispatching) {
        queue = LoopQueue.create();
        gen.queues.push(queue);
      }
      const data: LoopThreadData = {
        index: i,
        loops: this.loops,
        module: href,
        moduleOptions: this.opts.moduleOptions,
        statsSab: gen.statsSab,
        statsSabs: this.statsSabs,
        stateSab: this.state.sab,
        listenFds: this.fdsFor(i),
        exclusive: this.strategy === 'exclusive',
        queue: queue?.handle,
        conn: this.connOpts(),
      };
      const w = new Worker(fileURLToPath(loopThreadUrl), { workerData: data, name: `edgeloop-loop-${i}` });
      gen.workers.push(w);
      w.once('exit', () => this.exited.add(w));
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMsg = (m: LoopThreadMessage): void => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error') reject(Object.assign(new Error(m.message), { code: m.code }));
            else if (m.type === 'fdShortage') this.fdShortage(`edgeloop-loop-${i}`, m.report);
            else if (m.type === 'sni') this.answerSni(w, m.id, m.name);
          };
          w.on('message', onMsg);
          w.once('error', reject);
          // After start-up a thread can still die (out of memory, process.exit in a handler): say so, loudly.
          w.on('error', (err) => console.error(`edgeloop: loop thread ${i} failed:`, err));
          w.once('exit', (code) => reject(new Error(`loop thread ${i} exited with code ${code} before it was ready`)));
        }),
      );
    }
    await settleAll(ready, 2000);
  }

  /** A loop thread asks for the certificate of an SNI name; a failure goes back as its message. */
  private answerSni(w: Worker, id: number, name: string): void {
    this.askSni(name).then(
      (c) => w.postMessage({ type: 'sni-answer', id, cert: c?.cert ?? null, key: c?.key ?? null }),
      (err: unknown) => w.postMessage({ type: 'sni-answer', id, error: err instanceof Error ? err.message : String(err) }),
    );
  }

  private startDispatcher(gen: Generation): void {
    const loop = new EventLoop({ index: this.loops, statsBuffer: gen.statsSab, name: 'edgeloop-dispatcher' });
    const actives = gen.queues.map((_, i) => new LoopStats(i, gen.statsSab));
    const acceptor = new Acceptor(loop, this.listenFds[0]!, {
      ownsFd: false,
      onNewConnection: (fd) => {
        const target = this.pickLoop(gen.queues, actives);
        if (!gen.queues[target]!.post(QueueMsg.NewConnection, fd)) {
          // Ring full: the loops are far behind; shedding beats unbounded memory.
          native.close(fd);
          loop.stats.c[S.shed]!++;
        }
      },
      onFdShortage: (r) => this.fdShortage(loop.name, r),
    });
    acceptor.listen();
    gen.local = { loop, acceptor };
  }

  private fdShortage(where: string, r: FdShortage): void {
    if (this.opts.onFdShortage) this.opts.onFdShortage(r);
    else logFdShortage(where, r);
  }

  private pickLoop(queues: LoopQueue[], stats: LoopStats[]): number {
    if (this.opts.dispatch === 'least-connections') {
      let best = 0;
      let bestLoad = Infinity;
      for (let i = 0; i < stats.length; i++) {
        const load = stats[i]!.c[S.active]! + queues[i]!.length;
        if (load < bestLoad) {
          bestLoad = load;
          best = i;
        }
      }
      return best;
    }
    this.rr = (this.rr + 1) % queues.length;
    return this.rr;
  }

  /**
   * Replaces the loops with fresh ones, the handler module loaded anew: the
   * new loops start on the same listen fds, then the old ones take what is
   * queued, leave the listeners and finish their connections (up to
   * `timeout` ms). Resolves when the old loops are gone; if the new module
   * fails to load, the old loops keep serving and the promise rejects.
   */
  reload(opts: { timeout?: number } = {}): Promise<void> {
    const next = this.reloading.catch(() => undefined).then(() => this.reloadOnce(opts.timeout ?? 5000));
    this.reloading = next;
    return next;
  }

  private async reloadOnce(timeout: number): Promise<void> {
    if (this.status !== 'listening') throw new Error(`TcpServer.reload(): the server is ${this.status}`);
    if (!this.opts.module) {
      throw new TypeError('TcpServer.reload(): a handler function cannot be loaded anew; serve from a module ({ module: new URL("./app.js", import.meta.url) }) to reload');
    }
    if (this.strategy === 'dispatcher' && this.loops > 1) {
      throw new TypeError('TcpServer.reload(): not available with accept: dispatcher; use reuseport or exclusive');
    }
    const old = this.gen!;
    this.gen = await this.startGeneration('workers');
    await this.stopGeneration(old, timeout);
  }

  /**
   * Graceful stop: say "draining" (drainDelay), stop accepting without losing
   * what is queued, let connections finish, force-close what is left after
   * `timeout` ms. Resolves when every loop has stopped.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    this.stopping ??= this.stopOnce(opts);
    return this.stopping;
  }

  private async stopOnce(opts: StopOptions): Promise<void> {
    if (this.status === 'new' || this.status === 'stopped') {
      this.status = 'stopped';
      this.resolveClosed();
      return;
    }
    if (this.status === 'starting') {
      // listen() sees the request when its start-up settles and unwinds everything itself.
      this.stopRequested = true;
      await this.starting?.catch(() => undefined);
      return;
    }
    await this.reloading.catch(() => undefined);
    this.status = 'stopping';
    this.control?.close();
    this.control = undefined;
    this.state.setDraining(true);
    if (opts.drainDelay && opts.drainDelay > 0) await sleep(opts.drainDelay);
    if (!opts.handover) {
      // No new connection enters the accept queues from here; what is in them, or on its way, is served.
      for (const fd of this.listenFds) {
        try {
          stopNewConnections(fd);
        } catch (err) {
          console.error(`edgeloop: ${(err as Error).message}; closing the listener may reset connections that arrive meanwhile`);
        }
      }
      await sleep(HANDSHAKE_SETTLE_MS);
    }
    const gen = this.gen;
    this.gen = undefined;
    if (gen) await this.stopGeneration(gen, opts.timeout ?? 5000, () => this.closeListeners());
    this.closeListeners();
    this.status = 'stopped';
    this.resolveClosed();
  }

  /** Another process serves on our listen sockets now: leave them to it and finish. */
  private handedOver(): void {
    this.takenOver = true;
    void this.stop({ handover: true, timeout: this.opts.handoverTimeout ?? 5000 });
  }

  private closeListeners(): void {
    for (const fd of this.listenFds) native.close(fd);
    this.listenFds = [];
  }

  /**
   * Stops one generation: every loop empties its accept queues and leaves
   * the listeners (then `released` runs), then finishes its connections.
   */
  private async stopGeneration(gen: Generation, timeout: number, released?: () => void): Promise<void> {
    const stops: WorkerStop[] = [];
    if (gen.local?.acceptor) {
      gen.local.acceptor.acceptPending(Number.MAX_SAFE_INTEGER);
      gen.local.acceptor.close();
    }
    const localStopped = gen.local?.server ? gen.local.server.stop(timeout) : Promise.resolve();
    for (const w of gen.workers) stops.push(this.stopWorker(w, timeout));
    await Promise.all(stops.map((s) => s.released));
    released?.();
    await Promise.all([localStopped, ...stops.map((s) => s.stopped)]);
    gen.workers = [];
    if (gen.local?.loop.isRunning) gen.local.loop.quit();
    gen.local = undefined;
    for (const q of gen.queues) native.close(q.eventfd);
    gen.queues = [];
  }

  private stopWorker(w: Worker, timeout: number): WorkerStop {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const stopped = new Promise<void>((resolve) => {
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        release();
        resolve();
      };
      const guard = setTimeout(() => {
        void w.terminate().then(finish, finish);
      }, timeout + 2000);
      if (this.exited.has(w) || w.threadId === -1) return finish();
      w.once('exit', finish);
      w.on('message', (m: LoopThreadMessage) => {
        if (m.type === 'released') release();
        // The loop is stopped; user modules may still hold timers or handles.
        else if (m.type === 'stopped') void w.terminate().then(finish, finish);
      });
      w.postMessage({ type: 'stop', timeout });
    });
    return { released, stopped };
  }

  /**
   * Undoes a start-up that failed or was stopped. Loop threads that came up
   * are stopped the ordinary way (terminate() would leave their epoll and
   * reserve fds open); threads whose setup failed have closed theirs and exited.
   */
  private async cleanupAfterFailure(): Promise<void> {
    const gen = this.gen;
    this.gen = undefined;
    if (gen) await this.stopGeneration(gen, 0);
    this.closeListeners();
  }
}
