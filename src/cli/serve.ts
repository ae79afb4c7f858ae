/**
 * `edgeloop serve`: the HTTP/1.1 demo server. Thread: main (loops run on
 * workers when --loops > 1, each loading the demo app module).
 */
import os from 'node:os';
import { serve, type HttpServer, type ServeOptions } from '../http/index.js';
import { resolveHttpOptions } from '../http/options.js';
import type { ParserLimits } from '../http/parser/limits.js';
import { flag, flagHelp, parseFlags, parsePort, usageError, UsageError, type FlagValues } from './args.js';
import { durationArg, plural, sizeArg } from './format.js';
import { TrustProxy } from '../http/trust-proxy.js';
import { ACCESS_LOG_FORMATS, type AccessLogFormat, type AccessLogOptions } from '../http/access-log.js';
import { onReloadSignal, onStopSignal, readTls, reloadTls, serverFlags, tlsFiles, tlsFlags, type TlsFiles } from './options.js';

const D = resolveHttpOptions();
const L = D.limits;
const ms = { bare: 'ms' } as const;

/** Every timeout and limit of the HTTP server: one flag each, mapped onto serve()'s options in httpOptions(). */
const HTTP_FLAGS = {
  'headers-timeout': flag.duration({ ...ms, help: `from accept to the end of the request head: 408 after T (default ${durationArg(D.headersTimeout)})` }),
  'request-timeout': flag.duration({ ...ms, min: 0, help: `the whole exchange, request to end of response: 408, or a close once sent (default ${durationArg(D.requestTimeout)}; 0 = none)` }),
  'body-timeout': flag.duration({ ...ms, help: `a request body making no progress for T: 408 (default ${durationArg(D.bodyTimeout)})` }),
  'keep-alive-timeout': flag.duration({ ...ms, help: `idle keep-alive connections close after T (default ${durationArg(D.keepAliveTimeout)})` }),
  'send-timeout': flag.duration({ ...ms, help: `a client that takes no byte of queued output for T is closed (default ${durationArg(D.sendTimeout)})` }),
  'max-request-line': flag.size({ min: 1, help: `longest request line (method, URL, version): 414 beyond (default ${sizeArg(L.maxRequestLineBytes)})` }),
  'max-header-size': flag.size({ min: 1, help: `largest header section: 431 beyond (default ${sizeArg(L.maxHeaderBytes)})` }),
  'max-headers': flag.int({ min: 1, max: 1_000_000, help: `most header fields: 431 beyond (default ${L.maxHeaderCount})` }),
  'max-body': flag.size({ min: 1, help: `largest request body: 413 beyond (default ${sizeArg(L.maxBodyBytes)})` }),
  'max-chunk-extension': flag.size({ min: 1, help: `longest chunk-size line with its extensions: 400 beyond (default ${sizeArg(L.maxChunkExtensionBytes)})` }),
  'max-requests-per-connection': flag.int({ min: 0, help: 'close a connection after N requests (default 0 = no limit)' }),
  'write-high-water-mark': flag.size({ min: 1024, help: `queued output per connection above which reading pauses (default ${sizeArg(D.writeHighWaterMark)})` }),
  'stop-timeout': flag.duration({ ...ms, help: 'on SIGINT/SIGTERM, connections still open after T are closed (default 5s)' }),
};

/** Every flag of `serve`; --help lists each of them (a test holds it to that). */
export const FLAGS = {
  ...serverFlags,
  port: flag.port({ short: 'p', help: 'port to listen on (default: $PORT, else 8080; 0 picks a free one)' }),
  ...HTTP_FLAGS,
  'access-log': flag.text({
    ifBare: '-',
    metavar: '[FILE|-]',
    what: 'a file or -',
    help: 'a line per response to FILE (appended to), or to standard output with - or no value',
  }),
  'access-log-format': flag.choice(ACCESS_LOG_FORMATS, { help: `${ACCESS_LOG_FORMATS.join(' | ')} (default common)` }),
  'trust-proxy': flag.csv({
    item: trustedAddress,
    help: 'believe X-Forwarded-For from these peers: comma-separated addresses, CIDR ranges,\nloopback, linklocal, uniquelocal (default: nobody)',
  }),
  ...tlsFlags,
  control: flag.text({ metavar: 'PATH', what: 'a path', help: 'Unix socket for process takeover (see above)' }),
  'drain-delay': flag.duration({ bare: 'ms', min: 0, help: 'on SIGTERM, /healthz says 503 for T before accepting stops (default 0)' }),
};

function accessLog(path: string | undefined, format: AccessLogFormat | undefined): { accessLog?: AccessLogOptions } {
  if (path === undefined) {
    if (format !== undefined) throw new UsageError('--access-log-format needs --access-log');
    return {};
  }
  return { accessLog: { path, format: format ?? 'common' } };
}

/** One --trust-proxy entry, checked as serve() will check it. */
function trustedAddress(raw: string, label: string): string {
  try {
    new TrustProxy([raw]);
  } catch (err) {
    throw new UsageError(`${label}: ${(err as Error).message.replace(/^trustProxy: /, '')}`);
  }
  return raw;
}

type Values = FlagValues<typeof FLAGS>;

/** Only what was given: serve() applies its own defaults to the rest. */
function given<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function httpOptions(v: Values): Partial<ServeOptions> {
  const limits: Partial<ParserLimits> = given({
    maxRequestLineBytes: v['max-request-line'],
    maxHeaderBytes: v['max-header-size'],
    maxHeaderCount: v['max-headers'],
    maxBodyBytes: v['max-body'],
    maxChunkExtensionBytes: v['max-chunk-extension'],
  });
  return {
    ...given({
      headersTimeout: v['headers-timeout'],
      requestTimeout: v['request-timeout'],
      bodyTimeout: v['body-timeout'],
      keepAliveTimeout: v['keep-alive-timeout'],
      sendTimeout: v['send-timeout'],
      maxRequestsPerConnection: v['max-requests-per-connection'],
      writeHighWaterMark: v['write-high-water-mark'],
    }),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

const HELP = `usage: edgeloop serve [--port P] [--host H] [--loops N] [--accept reuseport|exclusive|dispatcher] [options]

HTTP/1.1 demo server. Prints "listening on http://HOST:PORT (N loops, accept=S, backlog=B)" when
ready.
With --tls-cert and --tls-key it serves HTTPS (https://HOST:PORT; TLS 1.2 and 1.3, ALPN http/1.1).

Signals:
  SIGTERM, SIGINT  graceful stop: /healthz turns 503 (for --drain-delay, still serving), then
                   accepting stops without losing queued connections, in-flight requests finish
                   (up to --stop-timeout), idle connections close; exit 0. A second signal exits now.
  SIGHUP           reload: re-reads --tls-cert and --tls-key (if they do not load, the old ones
                   stay and nothing is reloaded), then fresh loop threads load the app anew on the
                   same listen sockets; the old loops drain. No connection is refused or reset.
With --control PATH, a second \`edgeloop serve --control PATH\` takes the listen sockets over from
the running one (through the Unix socket PATH) and serves; the old process drains and exits 0.

Routes:
  GET  /             an index of these routes (HTML)
  GET  /hello        200 "hello" (text/plain)
  POST /echo         the request body back, with the request's Content-Type
  GET  /delay?ms=N   waits N ms on a timer, then 200
  GET  /bytes?n=N    N bytes
  GET  /stats        per-loop counters as JSON (accepted, active, requests, closed by reason, ...)
  WS   /ws           WebSocket echo: text back as text, binary as binary
  WS   /pubsub/TOPIC  each message goes to every other subscriber of TOPIC, on any loop
  GET  /ip           the client's address as the server sees it (text)
  GET  /metrics      every loop's counters in the Prometheus text format
  GET  /healthz      200 "ok" while serving, 503 "draining" while stopping

Options:
${flagHelp({ ...serverFlags, port: FLAGS.port, control: FLAGS.control, 'drain-delay': FLAGS['drain-delay'], 'access-log': FLAGS['access-log'], 'access-log-format': FLAGS['access-log-format'], 'trust-proxy': FLAGS['trust-proxy'] })}

TLS (HTTPS and wss://; see docs/tls.md):
${flagHelp(tlsFlags)}

Timeouts and limits (each is a serve() option; see docs/http-api.md):
${flagHelp(HTTP_FLAGS)}

Durations take ms, s, m or h (500ms, 2s, 1m; a bare number is milliseconds);
sizes take k, m or g (16k, 64KiB, 1m; a bare number is bytes).`;

export async function main(argv: string[]): Promise<number> {
  let options: ServeOptions;
  let drainDelay = 0;
  let stopTimeout = 5000;
  let tls: TlsFiles | undefined;
  try {
    const { values: v } = parseFlags(argv, FLAGS);
    if (v.help) {
      console.log(HELP);
      return 0;
    }
    // $PORT is the platform convention (Heroku, Cloud Run, ...); --port wins over it, and an empty PORT is unset.
    const envPort = v.port === undefined && process.env.PORT ? parsePort('PORT', process.env.PORT) : undefined;
    drainDelay = v['drain-delay'] ?? 0;
    options = {
      host: v.host ?? '127.0.0.1',
      port: v.port ?? envPort ?? 8080,
      loops: v.loops ?? os.availableParallelism(),
      accept: v.accept ?? 'reuseport',
      backlog: v.backlog,
      module: new URL('../http/demo.js', import.meta.url),
      metrics: '/metrics',
      ...httpOptions(v),
      ...(v['proxy-protocol'] ? { proxyProtocol: true } : {}),
      ...accessLog(v['access-log'], v['access-log-format']),
      ...(v['trust-proxy'] !== undefined ? { trustProxy: v['trust-proxy'] } : {}),
      health: '/healthz',
      handoverTimeout: v['stop-timeout'] ?? stopTimeout,
      ...(v.control !== undefined ? { control: v.control } : {}),
    };
    stopTimeout = v['stop-timeout'] ?? stopTimeout;
    tls = tlsFiles(v);
    if (tls) options.tls = readTls(tls);
  } catch (err) {
    return usageError('serve', err);
  }
  let server: HttpServer;
  try {
    server = await serve(options);
  } catch (err) {
    // EADDRINUSE and friends: the SysError message names the syscall, the errno and what to do.
    console.error(`edgeloop serve: ${(err as Error).message}`);
    return 1;
  }
  const { info } = server;
  console.log(`listening on ${server.url} (${plural(info.loops, 'loop')}, accept=${info.accept}, backlog=${info.backlog})`);
  if (info.backlogTruncatedFrom) {
    console.error(`edgeloop serve: warning: backlog ${info.backlogTruncatedFrom} was cut to ${info.backlog} by net.core.somaxconn`);
  }
  onStopSignal(() => server.stop({ timeout: stopTimeout, drainDelay }));
  // One SIGHUP handler: certificates first (new loops start with them), then the app's loops.
  const files = tls;
  onReloadSignal(async () => {
    if (files) await reloadTls(files, server);
    await server.reload({ timeout: stopTimeout });
    console.error('edgeloop serve: reloaded: fresh loops serve, the old ones have drained');
  });
  // Runs until a signal stops it, or another process takes the listen sockets over.
  await server.closed;
  if (server.takenOver) console.error('edgeloop serve: taken over through the control socket: drained, exiting');
  return 0;
}
