/**
 * The server side of one EventLoop: its acceptors and its live connections.
 * Thread: its loop's. Owns the TcpConnections accepted on (or handed to) this
 * loop, keyed by their never-reused id, and the Acceptors it listens with.
 */
import { native, C } from '../native/binding.js';
import { Acceptor, logFdShortage, type FdShortage } from './Acceptor.js';
import type { EventLoop } from './EventLoop.js';
import { EV_ET } from './Channel.js';
import { S, type LoopStatsSnapshot } from './LoopStats.js';
import { ProxyHeaderGate } from './ProxyHeaderGate.js';
import { TcpConnection, type ConnectionHandlers } from './TcpConnection.js';
import { HandshakeGate } from './tls/HandshakeGate.js';
import { certificateContext, serverContext, type TlsServerConfig } from './tls/options.js';
import type { TlsContextHandle } from '../native/binding.js';
import type { ServerState } from './ServerState.js';

export interface ServerHandlers extends ConnectionHandlers {
  /**
   * The server is stopping: finish what this connection is doing and close it
   * (e.g. HTTP closes idle keep-alive connections at once and busy ones after
   * their response). Default: conn.shutdown(), a FIN after the output drains.
   */
  onStop?(conn: TcpConnection): void;
  /** The server has stopped on this loop (every connection closed): release per-loop resources, flush logs. */
  onStopped?(): void;
}

/** What a handler module's setup function receives, in every loop thread. */
export interface ServerContext {
  loop: EventLoop;
  /** This loop's position in the pool (0-based). */
  index: number;
  loops: number;
  /** The `moduleOptions` given to the server (structured-cloned into this thread). */
  options: unknown;
  /** Counters of every loop of the server, read from shared memory. */
  stats(): LoopStatsSnapshot[];
  /** The server as a whole: draining or not, failing readiness checks (shared by every loop). */
  state: ServerState;
}

export type SetupFn = (ctx: ServerContext) => ServerHandlers | Promise<ServerHandlers>;

export interface ConnectionOptions {
  noDelay?: boolean;
  /** Close connections idle this long (ms); 0 = never. */
  idleTimeout?: number;
  edgeTriggered?: boolean;
  /** Accepts per wakeup before yielding to other channels (default 256). */
  maxAcceptsPerWakeup?: number;
  /** Told about each episode of fd shortage (accepting paused); default: one warning line. */
  onFdShortage?: (report: FdShortage) => void;
  /** Every connection starts with a PROXY protocol header (v1 or v2); see ProxyHeaderGate. */
  proxyProtocol?: boolean;
  /** Milliseconds a connection has to send its complete PROXY header (default 5000). */
  proxyHeaderTimeout?: number;
  /** TLS on every connection (resolved by TcpServer). */
  tls?: TlsServerConfig;
  /** With tls.sniCallback: asks the server's thread for the certificate of an SNI name (null: the default). */
  askSni?: (servername: string) => Promise<SniCertificate | null>;
}

/** A certificate a SniCallback chose, as PEM bytes. */
export interface SniCertificate {
  cert: Uint8Array;
  key: Uint8Array;
}

/** Names whose certificates a loop keeps; past this the cache starts over (a client inventing names cannot grow it). */
const SNI_CACHE_MAX = 1024;

export const DEFAULT_PROXY_HEADER_TIMEOUT = 5000;

export class ServerLoop {
  readonly connections = new Map<number, TcpConnection>();
  private readonly acceptors: Acceptor[] = [];
  private readonly wrapped: ConnectionHandlers;
  private stopping: { resolve: () => void } | undefined;
  /** Connections still waiting for their PROXY header. */
  private readonly gated = new Set<TcpConnection>();
  private tls: { cfg: TlsServerConfig; ctx: TlsContextHandle; gate: HandshakeGate } | undefined;
  /** SNI callback answers of this loop, by name: asked once, kept until setSecureContext. */
  private sniContexts = new Map<string, Promise<TlsContextHandle | null>>();

  constructor(
    readonly loop: EventLoop,
    readonly handlers: ServerHandlers,
    private readonly opts: ConnectionOptions = {},
  ) {
    // Bound copies: handlers may be a class instance whose methods live on its prototype.
    const bind = <K extends keyof ConnectionHandlers>(k: K): ConnectionHandlers[K] =>
      typeof handlers[k] === 'function' ? ((handlers[k] as (...a: never[]) => unknown).bind(handlers) as ConnectionHandlers[K]) : undefined;
    if (opts.tls) this.tls = { cfg: opts.tls, ctx: serverContext(opts.tls), gate: new HandshakeGate(opts.tls.handshakesPerTurn) };
    this.wrapped = {
      onConnection: bind('onConnection'),
      onMessage: bind('onMessage'),
      onPeerHalfClose: bind('onPeerHalfClose'),
      onWriteComplete: bind('onWriteComplete'),
      onHighWaterMark: bind('onHighWaterMark'),
      onDrain: bind('onDrain'),
      onClose: (conn, reason, error) => {
        this.connections.delete(conn.id);
        try {
          handlers.onClose?.(conn, reason, error);
        } finally {
          this.settleStop();
        }
      },
    };
  }

  private settleStop(): void {
    if (this.stopping && this.connections.size === 0) this.stopping.resolve();
  }

  /** A connection that closed at the PROXY gate: its handlers never heard of it. */
  private readonly closedAtGate = (conn: TcpConnection): void => {
    this.connections.delete(conn.id);
    this.gated.delete(conn);
    this.settleStop();
  };

  addAcceptor(fd: number, o: { exclusive?: boolean; ownsFd?: boolean; maxPerWakeup?: number }): Acceptor {
    const a = new Acceptor(this.loop, fd, {
      ...o,
      edgeTriggered: this.opts.edgeTriggered ?? false,
      maxPerWakeup: o.maxPerWakeup ?? this.opts.maxAcceptsPerWakeup,
      onNewConnection: (cfd) => this.newConnection(cfd),
      onFdShortage: (r) => (this.opts.onFdShortage ? this.opts.onFdShortage(r) : logFdShortage(this.loop.name, r)),
    });
    this.acceptors.push(a);
    a.listen();
    return a;
  }

  /** Takes ownership of a connected fd (from an Acceptor or handed over by another loop). */
  newConnection(fd: number, handedOver = false): TcpConnection | undefined {
    if (this.stopping) {
      native.close(fd);
      return undefined;
    }
    if (handedOver) this.loop.stats.c[S.accepted]!++;
    const conn = new TcpConnection(this.loop, fd, 'connecting', this.opts.edgeTriggered ? EV_ET : 0);
    if (this.opts.noDelay !== false) native.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
    if (this.opts.proxyProtocol) {
      const next: ConnectionHandlers = {
        ...this.wrapped,
        onConnection: (c) => {
          this.gated.delete(c);
          this.wrapped.onConnection?.(c);
        },
      };
      const gate = new ProxyHeaderGate(conn, this.opts.proxyHeaderTimeout ?? DEFAULT_PROXY_HEADER_TIMEOUT, next, this.closedAtGate);
      conn.setHandlers(gate.handlers);
      this.gated.add(conn);
    } else {
      conn.setHandlers(this.wrapped);
    }
    const tls = this.tls;
    if (tls) {
      conn.startTls({
        ctx: tls.ctx,
        server: true,
        handshakeTimeout: tls.cfg.handshakeTimeout,
        gate: tls.gate,
        plainHttpReply: tls.cfg.plainHttpReply,
        ...(tls.cfg.sniCallback ? { pickCertificate: this.pickCertificate } : {}),
      });
    }
    this.connections.set(conn.id, conn);
    conn.establish();
    if (this.opts.idleTimeout && !conn.isClosed) conn.setIdleTimeout(this.opts.idleTimeout);
    return conn;
  }

  /**
   * New handshakes use these certificates; live connections keep theirs.
   * Throws (and keeps the old ones) when they do not load.
   */
  setSecureContext(cfg: TlsServerConfig): void {
    this.loop.assertInLoopThread();
    if (!this.tls) throw new Error('setSecureContext: this server was started without tls');
    this.tls = { cfg, ctx: serverContext(cfg), gate: this.tls.gate };
    this.sniContexts = new Map();
  }

  /** The context of the certificate the SNI callback chose for `name` (null: the default), built once per name. */
  private readonly pickCertificate = (name: string): Promise<TlsContextHandle | null> => {
    const known = this.sniContexts.get(name);
    if (known !== undefined) return known;
    const ask = this.opts.askSni;
    const cfg = this.tls?.cfg;
    if (ask === undefined || cfg === undefined) return Promise.resolve(null);
    if (this.sniContexts.size >= SNI_CACHE_MAX) this.sniContexts.clear();
    const cache = this.sniContexts;
    const p = ask(name).then((c) => (c === null ? null : certificateContext(cfg, c.cert, c.key, `sni('${name}')`)));
    // A failed answer is not kept: the next handshake with that name asks again.
    p.catch(() => {
      if (cache.get(name) === p) cache.delete(name);
    });
    cache.set(name, p);
    return p;
  };

  /**
   * Stops accepting: takes what is already in the accept queues, then leaves
   * the listen sockets (closing the fds only where an Acceptor owns them).
   */
  releaseListeners(): void {
    this.loop.assertInLoopThread();
    for (const a of this.acceptors) {
      if (!a.isPaused) a.acceptPending(Number.MAX_SAFE_INTEGER);
      a.close();
    }
    this.acceptors.length = 0;
  }

  /**
   * Graceful stop: take what is already in the accept queue, stop accepting,
   * let every connection finish, force-close what is left after timeoutMs.
   */
  stop(timeoutMs = 5000): Promise<void> {
    this.releaseListeners();
    return new Promise<void>((resolve) => {
      let timer: { cancel(): void } | undefined;
      const done = (): void => {
        timer?.cancel();
        try {
          this.handlers.onStopped?.();
        } catch (err) {
          this.loop.reportError(err);
        }
        resolve();
      };
      this.stopping = { resolve: done };
      if (this.connections.size === 0) return done();
      // Infinity: wait for every connection however long; below 0 (or NaN): force-close at once.
      if (timeoutMs !== Infinity) timer = this.loop.runAfter(Math.max(0, timeoutMs) || 0, () => {
        for (const c of [...this.connections.values()]) c.forceClose('shutdown');
      });
      for (const c of [...this.connections.values()]) {
        if (c.isClosed) continue;
        if (this.gated.has(c)) {
          c.forceClose('shutdown'); // not served yet, and its handlers do not know it
          continue;
        }
        if (this.handlers.onStop) {
          try {
            this.handlers.onStop(c);
          } catch (err) {
            this.loop.reportError(err);
            c.forceClose('error');
          }
        } else {
          c.shutdown();
        }
      }
    });
  }
}
