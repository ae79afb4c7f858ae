/**
 * HTTP server options (limits, timeouts, write buffering) and the handler
 * signatures. Options are plain data so they can cross into loop threads.
 * Thread: any. Owns nothing.
 */
import type { SockAddr } from '../native/binding.js';
import type { LoopStatsSnapshot } from '../reactor/LoopStats.js';
import type { HealthStatus } from '../reactor/ServerState.js';
import type { ParserLimits } from './parser/limits.js';
import { resolveLimits } from './parser/limits.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';
import type { WebSocketBehavior, WsData, SendOptions } from '../ws/options.js';

/** What `new Headers()` takes. */
export type HeadersLike = ConstructorParameters<typeof Headers>[0];
import { TrustProxy, type ProxyHeader } from './trust-proxy.js';
import { resolveAccessLog, type AccessLogOptions } from './access-log.js';

/** What a handler knows about where it runs. */
export interface HandlerContext {
  /** The index of the loop (thread) running this handler. */
  readonly loop: number;
  /** How many loops the server has. */
  readonly loops: number;
  /** Counters of every loop, read from shared memory. */
  stats(): LoopStatsSnapshot[];
  /** True when the server has WebSocket handlers (`websocket`). */
  readonly websocket: boolean;
  /**
   * Web style (Bun.serve): turns this request into a WebSocket; the fetch handler then returns
   * nothing. `data` becomes `ws.data`; `headers` go into the 101. False when it cannot: a
   * malformed handshake is answered with 400 or 426 (whatever Response the handler returns then
   * is dropped); a request that asked for no WebSocket is left to the handler's Response.
   */
  upgrade(request: Request, opts?: { data?: unknown; headers?: HeadersLike }): boolean;
  /** Sends to every subscriber of `topic` on every loop; the frame's size, or 0 when nobody is subscribed. */
  publish(topic: string, data: WsData, opts?: SendOptions): number;
  /** Subscribers of `topic` on every loop of the server. */
  subscriberCount(topic: string): number;
  /** Bun's `server.requestIP(request)`: the client of a Request given to a fetch handler, `{ address, family, port }`, or null. */
  requestIP(request: Request): SockAddr | null;
  /** The server's health: serving, draining (stopping or handing over) or unready (a readiness check fails). */
  health(): HealthStatus;
}

/** The fast native API: write the response through `res`. A rejected promise or a throw gives 500. */
export type Handler = (req: HttpRequest, res: HttpResponse, ctx: HandlerContext) => void | Promise<void>;

/**
 * What a fetch handler gets as its second argument, like Bun's `server` (Hono passes it on as
 * `c.env`). Per-loop facts now; the place for per-server calls such as `upgrade(request)`.
 */
export interface FetchServer extends HandlerContext {}

/** The Web-standard API (Bun.serve, Deno.serve, Hono's `app.fetch`). */
/** Returns nothing only after `server.upgrade(request)` (the exchange became a WebSocket). */
export type FetchHandler = (request: Request, server: FetchServer) => Response | undefined | Promise<Response | undefined>;

/** A module loaded in every loop thread: its `default`, `handler` or `fetch` export serves requests. */
export interface AppModule {
  default?: Handler | { fetch: FetchHandler; websocket?: WebSocketBehavior } | FetchHandler;
  handler?: Handler;
  fetch?: FetchHandler;
  /** WebSocket handlers and options (or `websocket` on the default export, as in Bun). */
  websocket?: WebSocketBehavior;
  /** Errors thrown by this module's handlers, in the loop thread that ran them (serve()'s onError cannot cross threads). */
  onError?: (err: unknown) => void;
}

export interface HttpOptions {
  /** Parser limits; each rejected with its own status (414, 431, 413, 400). */
  limits?: Partial<ParserLimits>;
  /** Milliseconds from the start of a request (accept, for a connection's first) to the end of its head (slowloris): 408. Default 30 s. */
  headersTimeout?: number;
  /**
   * Milliseconds from the start of a request to the end of its response: the whole exchange
   * (a trickled body, a handler that never ends). 408 if nothing was sent yet, else a close.
   * Default 300 s; 0 = no limit (long-lived responses such as server-sent events).
   */
  requestTimeout?: number;
  /** Milliseconds without progress while a body is received (not while the handler holds it back): 408. Default 30 s. */
  bodyTimeout?: number;
  /** Milliseconds an idle keep-alive connection is kept. Default 5 s. */
  keepAliveTimeout?: number;
  /** Milliseconds queued output may wait without the client taking a byte (a reader that stopped): closed. Default 60 s. */
  sendTimeout?: number;
  /** Close a connection after this many requests (0 = no limit). */
  maxRequestsPerConnection?: number;
  /** Output queued per connection above which `res.write()` returns false and parsing stops. Default 256 KiB. */
  writeHighWaterMark?: number;
  /**
   * Replace `globalThis.Response`, in each thread that serves a fetch handler, by edgeloop's fast
   * Response (written straight out, no stream): on by default. `false` keeps undici's Response
   * (every response then takes the streaming path).
   */
  fastResponse?: boolean;
  /**
   * Proxies whose X-Forwarded-For (or Forwarded) header says who the client is: addresses,
   * CIDR ranges, or `loopback`, `linklocal`, `uniquelocal`. From any other peer the headers are
   * ignored. Default: none (req.remoteAddress is the TCP peer).
   */
  trustProxy?: readonly string[];
  /** Which header trusted proxies write: 'x-forwarded-for' (default; nginx, HAProxy) or 'forwarded' (RFC 7239). */
  proxyHeader?: ProxyHeader;
  /**
   * One line per response: a file path (appended to) or '-' for standard output, in common log
   * format; or `{ path, format: 'common' | 'combined' | 'json' }`. Written once per loop turn.
   */
  accessLog?: string | AccessLogOptions;
  /** A path (e.g. '/metrics') answered with every loop's counters in the Prometheus text format, before the app sees it. */
  metrics?: string;
  /** Errors thrown by handlers (answered with 500). Default: console.error. Not with `module`: the module exports `onError` instead. */
  onError?: (err: unknown) => void;
  /**
   * A path answered by the server itself, before the app: 200 `ok` while
   * serving, 503 `draining` while stopping, 503 `unready: NAMES` while a
   * readiness check fails. For load balancer and Kubernetes probes. Default: none.
   */
  health?: string;
}

export interface ResolvedHttpOptions {
  limits: ParserLimits;
  headersTimeout: number;
  requestTimeout: number;
  bodyTimeout: number;
  keepAliveTimeout: number;
  sendTimeout: number;
  maxRequestsPerConnection: number;
  writeHighWaterMark: number;
  /** null: no proxy is trusted. */
  trustProxy: TrustProxy | null;
  metricsPath: string | undefined;
  accessLog: Required<AccessLogOptions> | undefined;
  onError: ((err: unknown) => void) | undefined;
  healthPath: string | undefined;
}

function ms(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`${name} must be a positive number of milliseconds, got ${String(v)}`);
  return v;
}

function checkPath(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\/[\x21-\x7e]*$/.test(v) || v.includes('?')) {
    throw new RangeError(`${name} must be a path such as '/${name}' (no query), got ${JSON.stringify(v)}`);
  }
  return v;
}

export function resolveHttpOptions(o: HttpOptions = {}): ResolvedHttpOptions {
  const maxReq = o.maxRequestsPerConnection ?? 0;
  if (!Number.isInteger(maxReq) || maxReq < 0) throw new RangeError('maxRequestsPerConnection must be an integer >= 0');
  const hwm = o.writeHighWaterMark ?? 256 * 1024;
  if (!(hwm >= 1024)) throw new RangeError('writeHighWaterMark must be at least 1024 bytes');
  return {
    limits: resolveLimits(o.limits),
    headersTimeout: ms('headersTimeout', o.headersTimeout, 30_000),
    requestTimeout: o.requestTimeout === 0 ? 0 : ms('requestTimeout', o.requestTimeout, 300_000),
    bodyTimeout: ms('bodyTimeout', o.bodyTimeout, 30_000),
    keepAliveTimeout: ms('keepAliveTimeout', o.keepAliveTimeout, 5_000),
    sendTimeout: ms('sendTimeout', o.sendTimeout, 60_000),
    maxRequestsPerConnection: maxReq,
    writeHighWaterMark: hwm,
    metricsPath: checkPath('metrics', o.metrics),
    accessLog: resolveAccessLog(o.accessLog),
    trustProxy: o.trustProxy === undefined && o.proxyHeader === undefined ? null : new TrustProxy(o.trustProxy ?? [], o.proxyHeader),
    onError: o.onError,
    healthPath: checkPath('health', o.health),
  };
}

/** The structured-clonable part of the options (functions stay in the thread that has them). */
export function cloneableHttpOptions(o: HttpOptions): Omit<HttpOptions, 'onError'> {
  const { onError: _onError, ...rest } = o;
  return rest;
}
