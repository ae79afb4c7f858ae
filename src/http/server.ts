/**
 * `serve()`: an HTTP/1.1 server on a TcpServer. With a handler or fetch
 * function it runs one loop on the calling thread; with `module` every loop
 * thread imports the app module itself (functions cannot cross threads).
 * Thread: the caller's. Owns its TcpServer.
 */
import os from 'node:os';
import { TcpServer, type AcceptStrategy, type ServerInfo, type StopOptions } from '../reactor/TcpServer.js';
import { HealthChecks } from './health.js';
import type { WsLoop } from '../ws/loop.js';
import { resolveWsOptions, type SendOptions, type WebSocketBehavior, type WsData } from '../ws/options.js';
import { Bus, closeBus, createBus } from '../ws/pubsub.js';
import { dataBytes } from '../ws/websocket.js';
import type { TlsServerOptions } from '../reactor/tls/options.js';
import type { LoopStatsSnapshot } from '../reactor/LoopStats.js';
import { moduleHref } from '../reactor/loadModule.js';
import { fromFetch } from './fetch.js';
import { httpHandlers } from './handlers.js';
import { installFastResponse } from './web-response.js';
import type { LoopModuleOptions } from './loop-module.js';
import { cloneableHttpOptions, resolveHttpOptions, type FetchHandler, type Handler, type HttpOptions } from './options.js';

export interface ServeOptions extends HttpOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Event loops, one per thread. Default 1 with handler/fetch, the CPU count with module. */
  loops?: number;
  accept?: AcceptStrategy;
  /** Listen backlog; default net.core.somaxconn. */
  backlog?: number;
  /** Native handler (loops: 1, this thread). */
  handler?: Handler;
  /** Web-standard handler (loops: 1, this thread). */
  fetch?: FetchHandler;
  /** An app module loaded by every loop thread (its `handler`, `fetch` or `default` export). */
  module?: string | URL;
  /** WebSocket handlers and options (loops: 1; with module, the module exports `websocket`). See docs/websocket.md. */
  websocket?: WebSocketBehavior<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each app types its own ws.data
  /** Every connection starts with a PROXY protocol header (v1 or v2): req.remoteAddress is the client the balancer saw. */
  proxyProtocol?: boolean;
  /** Milliseconds to receive the PROXY header before the connection is closed unserved (default 5000). */
  proxyHeaderTimeout?: number;
  /** HTTPS: { cert, key } as PEM strings or Buffers; optionally ca, sni, alpn, requestCert. */
  tls?: TlsServerOptions;
  /**
   * A Unix socket path for zero-downtime process takeover: a server already
   * listening there hands its listen sockets to this one, which serves on
   * them, tells the old one to drain and exit, and listens on the path itself.
   */
  control?: string;
  /** ms a server taken over gives its connections to finish (default 5000). */
  handoverTimeout?: number;
}

export interface HttpServer {
  readonly info: ServerInfo;
  /** http://host:port, or https://host:port with tls. */
  readonly url: string;
  readonly port: number;
  /** Counters of every loop (accepted, active, requests, closed by reason, ...). */
  stats(): LoopStatsSnapshot[];
  /** HTTPS: new handshakes use these certificates; live connections keep theirs. */
  setSecureContext(tls: TlsServerOptions): Promise<void>;
  /**
   * Graceful stop: for `drainDelay` ms (default 0) the health route answers
   * 503 and every response closes its connection while the server still
   * serves; then accepting stops without dropping what is queued, requests in
   * flight finish (answered with `Connection: close`), idle connections
   * close; what is left is force-closed after `timeout` ms (default 5000).
   */
  stop(opts?: StopOptions): Promise<void>;
  /**
   * Starts fresh loop threads with the app module loaded anew on the same
   * listen sockets, then drains the old loops (up to `timeout` ms). Needs
   * `module`; rejects (and the old loops keep serving) if the module fails to load.
   */
  reload(opts?: { timeout?: number }): Promise<void>;
  /** Readiness checks behind the `health` route: `server.health.addCheck('db', () => db.ping())`. */
  readonly health: HealthChecks;
  /** Resolves when the server has stopped: stop(), or another process took it over (`takenOver`). */
  readonly closed: Promise<void>;
  /** True once another process has taken this server's listen sockets over through `control`. */
  readonly takenOver: boolean;
  /** Sends to every WebSocket subscribed to `topic`, on every loop. The frame's size, or 0 when nobody is subscribed. */
  publish(topic: string, data: WsData, opts?: SendOptions): number;
  /** WebSockets subscribed to `topic`, on every loop. */
  subscriberCount(topic: string): number;
}

/** ALPN http/1.1 (never h2), and nginx's answer to plain HTTP on the TLS port. */
const HTTPS_DEFAULTS = {
  alpn: ['http/1.1'],
  plainHttpReply:
    'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 48\r\nConnection: close\r\n\r\n' +
    'The plain HTTP request was sent to HTTPS port.\r\n',
};

export async function serve(options: ServeOptions): Promise<HttpServer> {
  const sources = [options.handler, options.fetch, options.module].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new TypeError('serve() needs exactly one of handler, fetch or module');
  if (options.module !== undefined && options.websocket !== undefined) {
    throw new TypeError('serve(): websocket handlers cannot reach loop threads; with module, export them from the module instead (export const websocket = { message(ws, msg) {...} })');
  }
  if (options.websocket !== undefined) resolveWsOptions(options.websocket); // validates early, in the caller's thread
  if (options.module !== undefined && options.onError !== undefined) {
    // A function cannot be sent to loop threads; dropping it silently would hide handler errors from it.
    throw new TypeError('serve(): onError cannot reach loop threads; with module, export it from the module instead (export function onError(err) {...})');
  }
  const http = resolveHttpOptions(options); // validates early, in the caller's thread
  const base = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    accept: options.accept,
    backlog: options.backlog,
    proxyProtocol: options.proxyProtocol,
    proxyHeaderTimeout: options.proxyHeaderTimeout,
    ...(options.tls !== undefined ? { tls: options.tls, tlsDefaults: HTTPS_DEFAULTS } : {}),
    ...(options.control !== undefined ? { control: options.control } : {}),
    ...(options.handoverTimeout !== undefined ? { handoverTimeout: options.handoverTimeout } : {}),
  };
  let tcp: TcpServer;
  /** loops: 1 with handler/fetch: the one WsLoop, on this thread. */
  let local: WsLoop | null = null;
  /** module: this thread's end of the loops' pub/sub bus. */
  let bus: { handles: ReturnType<typeof createBus>; bus: Bus } | null = null;
  if (options.module !== undefined) {
    const loops = options.loops ?? os.availableParallelism();
    const handles = createBus(Number.isInteger(loops) && loops >= 1 && loops <= 1024 ? loops : 1);
    bus = { handles, bus: new Bus(handles, handles.loops) };
    // TLS reaches the loops as TcpServer's resolved config; a tls.sni callback stays on this thread.
    const { tls: _tls, ...httpOnly } = options;
    const moduleOptions: LoopModuleOptions = { app: moduleHref(options.module), http: cloneableHttpOptions(httpOnly), bus: handles };
    tcp = new TcpServer({
      ...base,
      ...(options.loops !== undefined ? { loops: options.loops } : {}),
      module: new URL('./loop-module.js', import.meta.url),
      moduleOptions,
    });
  } else {
    const loops = options.loops ?? 1;
    if (loops !== 1) {
      throw new TypeError(
        `serve(): a handler function runs on this thread only (loops: 1); for loops: ${loops} put it in a module and pass { module: new URL('./app.js', import.meta.url) }`,
      );
    }
    if (options.fetch !== undefined && options.fastResponse !== false) installFastResponse();
    const app = options.handler ?? fromFetch(options.fetch!);
    tcp = new TcpServer({
      ...base,
      loops: 1,
      setup: (ctx) => {
        const h = httpHandlers(ctx, app, http, options.websocket);
        local = h.ws;
        return h;
      },
    });
  }
  let info: ServerInfo;
  try {
    info = await tcp.listen();
  } catch (err) {
    if (bus !== null) closeBus(bus.handles);
    throw err;
  }
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  const health = new HealthChecks(tcp.state);
  // However the server ends (stop(), or taken over by another process), its checks and bus go with it.
  const closed = tcp.closed.then(() => {
    health.close();
    if (bus !== null) closeBus(bus.handles);
    bus = null;
  });
  return {
    info,
    url: `${tcp.secure ? 'https' : 'http'}://${host}:${info.port}`,
    port: info.port,
    stats: () => tcp.stats(),
    stop: async (opts) => {
      await tcp.stop(opts);
      await closed;
    },
    reload: (opts) => tcp.reload(opts),
    health,
    closed,
    get takenOver() {
      return tcp.takenOver;
    },
    publish(topic, data, opts) {
      const binary = opts?.binary ?? typeof data !== 'string';
      if (local !== null) return local.publish(topic, data, binary, null);
      if (bus === null) return 0;
      if (typeof topic !== 'string') throw new TypeError('topic must be a string');
      const payload = dataBytes(data);
      return bus.bus.publish(topic, payload, binary) > 0 ? payload.length + 2 : 0;
    },
    subscriberCount(topic) {
      if (local !== null) return local.subscriberCount(topic);
      return bus === null ? 0 : bus.bus.subscriberCount(topic);
    },
    setSecureContext: (tls) => tcp.setSecureContext(tls),
  };
}

