/**
 * `serve()`: an HTTP/1.1 server on a TcpServer. With a handler or fetch
 * function it runs one loop on the calling thread; with `module` every loop
 * thread imports the app module itself (functions cannot cross threads).
 * Thread: the caller's. Owns its TcpServer.
 */
import { TcpServer, type AcceptStrategy, type ServerInfo } from '../reactor/TcpServer.js';
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
}

export interface HttpServer {
  readonly info: ServerInfo;
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Counters of every loop (accepted, active, requests, closed by reason, ...). */
  stats(): LoopStatsSnapshot[];
  /** Stops accepting, answers what is in flight with `Connection: close`, closes idle connections; force-closes after `timeout` ms. */
  stop(opts?: { timeout?: number }): Promise<void>;
}

export async function serve(options: ServeOptions): Promise<HttpServer> {
  const sources = [options.handler, options.fetch, options.module].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new TypeError('serve() needs exactly one of handler, fetch or module');
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
  };
  let tcp: TcpServer;
  if (options.module !== undefined) {
    const moduleOptions: LoopModuleOptions = { app: moduleHref(options.module), http: cloneableHttpOptions(options) };
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
    tcp = new TcpServer({ ...base, loops: 1, setup: (ctx) => httpHandlers(ctx, app, http) });
  }
  const info = await tcp.listen();
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  return {
    info,
    url: `http://${host}:${info.port}`,
    port: info.port,
    stats: () => tcp.stats(),
    stop: (opts) => tcp.stop(opts),
  };
}

