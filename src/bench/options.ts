/**
 * `edgeloop bench` command line: parsing and validation. Thread: main. Owns nothing.
 * Every rejection names the option and what would be accepted, because a load
 * generator that silently "fixes" an argument measures something else.
 */
import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { flag, parseFlags, UsageError, type FlagValues } from '../cli/args.js';
import { parseTarget, type Target } from './target.js';

/** Everything a run needs; structured-clonable so it can be handed to worker threads. */
export interface BenchOptions {
  target: Target;
  connections: number;
  /** -n: total requests across all connections and threads. */
  requests?: number;
  /** -d: stop issuing after this many ms. */
  durationMs?: number;
  threads: number;
  method: string;
  headers: Array<[string, string]>;
  body?: Uint8Array;
  pipeline: number;
  /** --close: one connection per request. */
  close: boolean;
  /** --rate: requests per second across the whole run (open loop). */
  rate?: number;
  connectTimeoutMs: number;
  /** Per request; 0 disables it. */
  timeoutMs: number;
  /** After -d expires (or on Ctrl-C): how long in-flight requests may still finish. */
  graceMs: number;
  json: boolean;
  html?: string;
  /** ws:// targets: each request is one message echoed back; binary frames with --binary. */
  ws?: { binary: boolean };
  /** Show the progress line (decided by the CLI from isTTY; --no-progress forces it off). */
  progress: boolean;
  /** https: how the server's certificate is checked. */
  tls?: BenchTls;
}

export interface BenchTls {
  /** --cacert: PEM CA certificates to trust instead of Node's bundled roots. */
  ca?: string;
  /** --insecure: do not verify the server's certificate. */
  insecure: boolean;
  /** SNI and the name the certificate must carry: the URL's host. */
  servername: string;
}

export type ParsedCommand = { help: true } | { help: false; options: BenchOptions };

export const DEFAULTS = {
  connections: 10,
  threads: 1,
  durationMs: 10_000,
  method: 'GET',
  pipeline: 1,
  connectTimeoutMs: 3_000,
  timeoutMs: 5_000,
  graceMs: 2_000,
} as const;

export const USAGE = `usage: edgeloop bench URL [options]

HTTP/1.1 load generator on the edgeloop reactor. Every request ends in exactly
one bucket: a status code, or connect refused / connect timeout / reset /
closed early / timeout / malformed, or "unanswered" when the run ends first.

  -c, --connections N      concurrent connections (default ${DEFAULTS.connections}, or -n if smaller)
  -n, --requests N         total requests, then stop
  -d, --duration T         run for T (10s, 500ms, 2m; a bare number is seconds;
                           default ${DEFAULTS.durationMs / 1000}s when no -n)
  -t, --threads N          event loops, one per thread (default ${DEFAULTS.threads})
  -m, --method M           request method (default GET)
  -H, --header 'K: V'      extra request header (repeatable)
  -b, --body TEXT          request body
      --body-file FILE     request body from a file
      --pipeline N         requests in flight per connection (default 1)
      --close              new connection for every request (no keep-alive);
                           implied by -H 'Connection: close'
      --rate R             constant rate of R requests/s in total; latency is
                           measured from the intended send time (wrk2-style)
      --connect-timeout T  connect timeout (default ${DEFAULTS.connectTimeoutMs / 1000}s)
      --timeout T          per-request timeout, 0 = none (default ${DEFAULTS.timeoutMs / 1000}s)
      --grace T            after -d ends, wait this long for in-flight requests
                           (default ${DEFAULTS.graceMs / 1000}s)
      --json               print one JSON object instead of the summary
      --html FILE          also write a self-contained HTML report (its directory
                           is checked before the run)
      --no-progress        no progress line (it only shows on a terminal anyway)
      --insecure           https and wss: do not verify the server's certificate
      --cacert FILE        https and wss: trust the CA certificates in this PEM file
                           (default: Node's bundled roots)
  -h, --help               this text

WebSocket (ws:// or wss://host:port/path): each connection does the handshake, then
sends a message and waits for its echo; a "request" is one echoed message.
  -b TEXT / --body-file    the message (default 'hello')
      --size N             an N-byte message instead
      --binary             binary frames (text by default)
      --pipeline N         messages in flight per connection
A refused handshake counts under "status", a close from the server under
"closed" (its codes in closeCodes). Over wss:// the TLS handshake time is reported
as for https://.

Durations take ms, s, m or h like -d; a bare number is seconds for -d and
milliseconds for the timeouts and --grace (their meaning before units).

Exit status: 0 when the run completed and at least one request was answered
(failed requests and error statuses are results, not failures); 1 when no
request was answered or the run could not start; 2 for bad arguments or an
unsupported URL.`;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseHeader(raw: string): [string, string] {
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new UsageError(`-H expects 'Name: value', got '${raw}'`);
  const name = raw.slice(0, colon).trim();
  const value = raw.slice(colon + 1).trim();
  if (!TOKEN.test(name)) throw new UsageError(`-H: '${name}' is not a valid header name`);
  if (/[\r\n\0]/.test(value)) throw new UsageError(`-H: the value of '${name}' contains a line break or NUL`);
  return [name, value];
}

const HOUR = 3_600_000;

/** The flags; `label` is the name messages use (bench's users type the short forms). */
const FLAGS = {
  connections: flag.int({ short: 'c', label: '-c', min: 1, max: 100_000 }),
  requests: flag.int({ short: 'n', label: '-n', min: 1 }),
  duration: flag.duration({ short: 'd', label: '-d', bare: 's' }),
  threads: flag.int({ short: 't', label: '-t', min: 1, max: 256 }),
  method: flag.text({ short: 'm', label: '-m' }),
  header: flag.list(parseHeader, { short: 'H', label: '-H' }),
  body: flag.string({ short: 'b', label: '-b' }),
  'body-file': flag.text({ what: 'a file name' }),
  pipeline: flag.int({ min: 1, max: 1024 }),
  close: flag.bool(),
  rate: flag.decimal({ min: 0, above: true }),
  'connect-timeout': flag.duration({ bare: 'ms', max: HOUR }),
  timeout: flag.duration({ bare: 'ms', min: 0, max: HOUR }),
  grace: flag.duration({ bare: 'ms', min: 0, max: HOUR }),
  json: flag.bool(),
  html: flag.output(),
  'no-progress': flag.bool(),
  insecure: flag.bool(),
  cacert: flag.input(),
  binary: flag.bool(),
  size: flag.int({ min: 0, max: 16 * 1024 * 1024 }),
  help: flag.bool({ short: 'h' }),
};

type Values = FlagValues<typeof FLAGS>;

export function parseBenchArgs(argv: string[], env: { isTTY: boolean } = { isTTY: false }): ParsedCommand {
  const { values: v, positionals } = parseFlags(argv, FLAGS, { positionals: true });
  if (v.help) return { help: true };
  const target = parseTarget(oneUrl(positionals));
  const shape = loadShape(v);
  const request = requestShape(v);
  const rate = v.rate;
  if (rate !== undefined && rate < shape.threads) {
    throw new UsageError(`--rate ${rate} is below one request per second per thread (-t ${shape.threads})`);
  }
  const json = v.json ?? false;
  const options: BenchOptions = {
    target,
    ...shape,
    ...request,
    connectTimeoutMs: v['connect-timeout'] ?? DEFAULTS.connectTimeoutMs,
    timeoutMs: v.timeout ?? DEFAULTS.timeoutMs,
    graceMs: v.grace ?? DEFAULTS.graceMs,
    json,
    progress: env.isTTY && !json && !v['no-progress'],
  };
  if (rate !== undefined) options.rate = rate;
  const tls = tlsShape(v, target);
  if (tls !== undefined) options.tls = tls;
  if (v.html !== undefined) options.html = v.html;
  if (target.scheme === 'ws') webSocketShape(v, options);
  else if (v.binary !== undefined || v.size !== undefined) {
    throw new UsageError(`${v.binary !== undefined ? '--binary' : '--size'} is for ws:// URLs`);
  }
  return { help: false, options };
}

/** https and wss: the certificate check; --insecure and --cacert make no sense without TLS. */
function tlsShape(v: Values, target: Target): BenchTls | undefined {
  if (!target.tls) {
    if (v.insecure) throw new UsageError('--insecure applies to https:// and wss:// URLs only');
    if (v.cacert !== undefined) throw new UsageError('--cacert applies to https:// and wss:// URLs only');
    return undefined;
  }
  if (v.insecure && v.cacert !== undefined) throw new UsageError('give either --insecure or --cacert, not both');
  const tls: BenchTls = { insecure: v.insecure ?? false, servername: target.host };
  if (v.cacert !== undefined) {
    const ca = fs.readFileSync(v.cacert, 'utf8');
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--cacert ${v.cacert}: no PEM certificate in it`);
    tls.ca = ca;
  }
  return tls;
}

function oneUrl(positionals: string[]): string {
  const [url, ...extra] = positionals;
  if (url === undefined) throw new UsageError('missing URL (e.g. edgeloop bench http://127.0.0.1:8080/)');
  if (extra.length > 0) throw new UsageError(`expected one URL, got ${positionals.length}: ${positionals.join(' ')}`);
  return url;
}

/** How much load: -n or -d, and the threads and connections that carry it. */
function loadShape(v: Values): Pick<BenchOptions, 'requests' | 'durationMs' | 'threads' | 'connections'> {
  const { requests, duration } = v;
  if (requests !== undefined && duration !== undefined) {
    throw new UsageError('give either -n (a number of requests) or -d (a duration), not both');
  }
  const durationMs = duration ?? (requests === undefined ? DEFAULTS.durationMs : undefined);
  const threads = v.threads ?? DEFAULTS.threads;
  if (requests !== undefined && threads > requests) {
    throw new UsageError(`-t ${threads} is more than -n ${requests}: every thread needs at least one request`);
  }
  // The default -c shrinks to fit a small -n (`-n 1` must just work); a -c the user typed is
  // taken at its word and refused below if it cannot be honoured.
  const connections = v.connections ?? Math.min(DEFAULTS.connections, requests ?? DEFAULTS.connections);
  if (threads > connections) {
    throw new UsageError(`-t ${threads} is more than -c ${connections}: every thread needs at least one connection`);
  }
  if (requests !== undefined && requests < connections) {
    throw new UsageError(`-c ${connections} is more than -n ${requests}: some connections would never send a request`);
  }
  return {
    threads,
    connections,
    ...(requests !== undefined ? { requests } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
  };
}

/** What each request is: method, headers, body, and how connections carry it. */
function requestShape(v: Values): Pick<BenchOptions, 'method' | 'headers' | 'body' | 'pipeline' | 'close'> {
  const method = v.method ?? DEFAULTS.method;
  if (!TOKEN.test(method)) throw new UsageError(`-m: '${method}' is not a valid method`);
  const headers = v.header;
  const body = requestBody(v);
  const pipeline = v.pipeline ?? DEFAULTS.pipeline;
  // A request saying "Connection: close" ends its connection (RFC 9112 9.6: the client must not
  // send another on it), whether or not the response says so: that is --close.
  const closeHeader = headers.some(
    ([k, val]) => k.toLowerCase() === 'connection' && val.split(',').some((t) => t.trim().toLowerCase() === 'close'),
  );
  const close = (v.close ?? false) || closeHeader;
  if (close && pipeline > 1) {
    throw new UsageError(
      v.close
        ? '--pipeline needs keep-alive connections; it cannot be combined with --close'
        : "--pipeline needs keep-alive connections; -H 'Connection: close' allows one request per connection",
    );
  }
  return { method, headers, pipeline, close, ...(body !== undefined ? { body } : {}) };
}

function requestBody(v: Values): Uint8Array | undefined {
  const file = v['body-file'];
  if (v.body !== undefined && file !== undefined) throw new UsageError('give either -b or --body-file, not both');
  if (v.body !== undefined) return new TextEncoder().encode(v.body);
  if (file === undefined) return undefined;
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`--body-file ${file}: cannot read it (${code})`);
  }
}

/** A ws:// run: the message and its frames; HTTP-only flags are refused rather than ignored. */
function webSocketShape(v: Values, o: BenchOptions): void {
  if (o.close) throw new UsageError('--close is for http:// URLs: a WebSocket run keeps its connections');
  if (v.method !== undefined) throw new UsageError('-m is for http:// URLs: the WebSocket handshake is a GET');
  if (v.size !== undefined) {
    if (o.body !== undefined) throw new UsageError('give either -b/--body-file or --size, not both');
    o.body = new Uint8Array(v.size).fill(0x78); // 'x': valid UTF-8 as a text message too
  }
  o.body ??= new TextEncoder().encode('hello');
  const binary = v.binary ?? false;
  if (!binary && !isUtf8(o.body)) throw new UsageError('the message is not valid UTF-8: add --binary to send it as binary');
  o.ws = { binary };
}
