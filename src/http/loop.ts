/**
 * The HTTP side of one event loop: the app, the options, the Output every
 * connection of the loop writes through, and the sweeper that enforces
 * connection deadlines (one periodic timer per loop instead of one timer per
 * connection: 5,000 idle keep-alive connections cost one scan per tick).
 * Deadlines cover requests (headers, body) and idle keep-alive time; the
 * same scan closes connections whose queued output stopped moving.
 * Thread: its loop's. Owns the set of live HttpConnections and the sweeper timer.
 */
import { performance } from 'node:perf_hooks';
import type { EventLoop } from '../reactor/EventLoop.js';
import type { ServerState } from '../reactor/ServerState.js';
import type { Timer } from '../reactor/TimerQueue.js';
import type { HttpConnection } from './connection.js';
import type { WsLoop } from '../ws/loop.js';
import type { Handler, HandlerContext, ResolvedHttpOptions } from './options.js';
import { Output } from './output.js';
import { RequestParser } from './parser/request-parser.js';
import type { TrustProxy } from './trust-proxy.js';
import { AccessLog, type AccessLogOptions } from './access-log.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';

/**
 * How long a stopping loop lets idle keep-alive connections send one more
 * request (answered with `Connection: close`) before it closes them: a client
 * under load sends its next request within this time, and closing under it
 * would fail that request.
 */
export const IDLE_CLOSE_GRACE_MS = 100;

export class HttpLoop {
  readonly output = new Output();
  /** Set when the server stops: responses say `Connection: close`, idle connections close. */
  stopping = false;
  private readonly live = new Set<HttpConnection>();
  /** Idle parsers, lent to connections while a request is on the wire. */
  private readonly parsers: RequestParser[] = [];
  private sweeper: Timer | null = null;
  private readonly tick: number;
  /** The loop's WebSocket side, when the server has `websocket` handlers. */
  ws: WsLoop | null = null;
  readonly trustProxy: TrustProxy | null;
  private readonly accessLog: AccessLog | null;

  constructor(
    readonly loop: EventLoop,
    readonly options: ResolvedHttpOptions,
    readonly app: Handler,
    readonly ctx: HandlerContext,
    /** Shared with every loop of the server: draining makes every response close its connection. */
    readonly state: ServerState,
  ) {
    this.trustProxy = options.trustProxy;
    this.accessLog = options.accessLog ? new AccessLog(loop, options.accessLog, (err) => this.reportError(err)) : null;
    const shortest = Math.min(options.headersTimeout, options.requestTimeout || Infinity, options.bodyTimeout, options.keepAliveTimeout, options.sendTimeout);
    // Deadlines are honoured within a quarter of the shortest timeout (at most 1 s late).
    this.tick = Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
  }

  /**
   * The server stops or hands over (on every loop, from the moment stop()
   * began, while loops still serve what drains), or this loop is stopping:
   * responses close their connections and no WebSocket is opened.
   */
  get draining(): boolean {
    return this.stopping || this.state.draining;
  }

  /** The loop is stopping: responses say close; what stays idle closes after IDLE_CLOSE_GRACE_MS. */
  beginStop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.loop.runAfter(IDLE_CLOSE_GRACE_MS, () => {
      for (const hc of [...this.live]) hc.closeIfIdle();
    });
  }

  add(hc: HttpConnection): void {
    this.live.add(hc);
    if (this.sweeper === null) this.sweeper = this.loop.runEvery(this.tick, this.sweep);
  }

  remove(hc: HttpConnection): void {
    this.live.delete(hc);
    if (this.live.size === 0 && this.sweeper !== null) {
      this.sweeper.cancel();
      this.sweeper = null;
    }
  }

  takeParser(): RequestParser {
    return this.parsers.pop() ?? new RequestParser(this.options.limits);
  }

  /** Only idle parsers (between requests, no error) come back. */
  releaseParser(p: RequestParser): void {
    p.reset();
    if (this.parsers.length < 1024) this.parsers.push(p);
  }

  /** A response ended (its last byte queued): counted by status class and duration in this loop's slab, and logged. */
  responded(req: HttpRequest, res: HttpResponse, startMs: number): void {
    const ms = performance.now() - startMs;
    this.loop.stats.response(res.statusCode, ms / 1000);
    this.accessLog?.record({ req, remote: req.remoteAddress, status: res.statusCode, bytes: res.bodyBytes, ms });
  }

  /** The server answered on its own (400, 408, 413, ...) and closes the connection. */
  refused(status: number, req: HttpRequest | undefined, remote: string | undefined, startMs: number, bytes: number): void {
    const ms = performance.now() - startMs;
    this.loop.stats.response(status, ms / 1000);
    this.accessLog?.record({ req, remote: req?.remoteAddress ?? remote, status, bytes, ms });
  }

  get logsAccess(): boolean {
    return this.accessLog !== null;
  }

  /** The server stopped on this loop: the access log is flushed and closed. */
  close(): void {
    this.accessLog?.close();
  }

  get size(): number {
    return this.live.size;
  }

  reportError(err: unknown): void {
    const h = this.options.onError;
    try {
      if (h) h(err);
      else this.loop.reportError(err);
    } catch {
      // an error reporter that throws must not take the loop down
    }
  }

  private readonly sweep = (): void => {
    const now = this.loop.now();
    for (const hc of this.live) {
      const d = hc.deadline;
      try {
        if (d !== 0 && now >= d) hc.onTimeout(now);
        // Queued output is watched whatever the request state: a reader that stopped is not "idle".
        if (hc.conn.bufferedAmount > 0) hc.checkSend(now);
      } catch (err) {
        this.reportError(err);
      }
    }
  };
}
