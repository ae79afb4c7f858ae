/**
 * `edgeloop bench` command line: parsing and validation. Thread: main. Owns nothing.
 * Every rejection names the option and what would be accepted, because a load
 * generator that silently "fixes" an argument measures something else.
 */
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import { UsageError } from './errors.js';
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
  /** Show the progress line (decided by the CLI from isTTY; --no-progress forces it off). */
  progress: boolean;
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
  -d, --duration T         run for T (10, 10s, 500ms, 2m; default ${DEFAULTS.durationMs / 1000}s when no -n)
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
      --connect-timeout MS connect timeout (default ${DEFAULTS.connectTimeoutMs})
      --timeout MS         per-request timeout, 0 = none (default ${DEFAULTS.timeoutMs})
      --grace MS           after -d ends, wait this long for in-flight requests
                           (default ${DEFAULTS.graceMs})
      --json               print one JSON object instead of the summary
      --html FILE          also write a self-contained HTML report
      --no-progress        no progress line (it only shows on a terminal anyway)
  -h, --help               this text

Exit status: 0 when the run completed (failed requests are results, not
failures), 2 for bad arguments or an unsupported URL.`;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function integer(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`${name} expects a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function positiveNumber(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${name} expects a positive number, got '${raw}'`);
  }
  return n;
}

/** "10" and "10s" are seconds; "500ms", "2m" and "1h" say their unit. */
export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
  if (!m) throw new UsageError(`-d expects a duration like 10, 10s, 500ms or 2m, got '${raw}'`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(m[1]) * scale);
  if (ms <= 0) throw new UsageError(`-d must be longer than 0, got '${raw}'`);
  return ms;
}

export function parseHeader(raw: string): [string, string] {
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new UsageError(`-H expects 'Name: value', got '${raw}'`);
  const name = raw.slice(0, colon).trim();
  const value = raw.slice(colon + 1).trim();
  if (!TOKEN.test(name)) throw new UsageError(`-H: '${name}' is not a valid header name`);
  if (/[\r\n\0]/.test(value)) throw new UsageError(`-H: the value of '${name}' contains a line break or NUL`);
  return [name, value];
}

export function parseBenchArgs(argv: string[], env: { isTTY: boolean } = { isTTY: false }): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        connections: { type: 'string', short: 'c' },
        requests: { type: 'string', short: 'n' },
        duration: { type: 'string', short: 'd' },
        threads: { type: 'string', short: 't' },
        method: { type: 'string', short: 'm' },
        header: { type: 'string', short: 'H', multiple: true },
        body: { type: 'string', short: 'b' },
        'body-file': { type: 'string' },
        pipeline: { type: 'string' },
        close: { type: 'boolean' },
        rate: { type: 'string' },
        'connect-timeout': { type: 'string' },
        timeout: { type: 'string' },
        grace: { type: 'string' },
        json: { type: 'boolean' },
        html: { type: 'string' },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs' messages are good but long; keep the first sentence.
    const msg = err instanceof Error ? err.message.split(/\.\s/)[0]! : String(err);
    throw new UsageError(msg);
  }
  const v = parsed.values;
  if (v.help) return { help: true };

  if (parsed.positionals.length === 0) throw new UsageError('missing URL (e.g. edgeloop bench http://127.0.0.1:8080/)');
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one URL, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
  }
  const target = parseTarget(parsed.positionals[0]!);

  if (v.requests !== undefined && v.duration !== undefined) {
    throw new UsageError('give either -n (a number of requests) or -d (a duration), not both');
  }
  const requests = v.requests === undefined ? undefined : integer('-n', v.requests, 1, Number.MAX_SAFE_INTEGER);
  const durationMs =
    v.duration !== undefined ? parseDuration(v.duration) : requests === undefined ? DEFAULTS.durationMs : undefined;

  const threads = v.threads === undefined ? DEFAULTS.threads : integer('-t', v.threads, 1, 256);
  if (requests !== undefined && threads > requests) {
    throw new UsageError(`-t ${threads} is more than -n ${requests}: every thread needs at least one request`);
  }
  // The default -c shrinks to fit a small -n (`-n 1` must just work); a -c the user typed is
  // taken at its word and refused below if it cannot be honoured.
  const connections =
    v.connections !== undefined
      ? integer('-c', v.connections, 1, 100_000)
      : Math.min(DEFAULTS.connections, requests ?? DEFAULTS.connections);
  if (threads > connections) {
    throw new UsageError(`-t ${threads} is more than -c ${connections}: every thread needs at least one connection`);
  }
  if (requests !== undefined && requests < connections) {
    throw new UsageError(`-c ${connections} is more than -n ${requests}: some connections would never send a request`);
  }

  const method = v.method ?? DEFAULTS.method;
  if (!TOKEN.test(method)) throw new UsageError(`-m: '${method}' is not a valid method`);

  const headers = (v.header ?? []).map(parseHeader);

  if (v.body !== undefined && v['body-file'] !== undefined) {
    throw new UsageError('give either -b or --body-file, not both');
  }
  let body: Uint8Array | undefined;
  if (v.body !== undefined) body = new TextEncoder().encode(v.body);
  if (v['body-file'] !== undefined) {
    try {
      body = new Uint8Array(fs.readFileSync(v['body-file']));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new UsageError(`--body-file ${v['body-file']}: cannot read it (${code})`);
    }
  }

  const pipeline = v.pipeline === undefined ? DEFAULTS.pipeline : integer('--pipeline', v.pipeline, 1, 1024);
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

  const rate = v.rate === undefined ? undefined : positiveNumber('--rate', v.rate);
  if (rate !== undefined && rate < threads) {
    throw new UsageError(`--rate ${rate} is below one request per second per thread (-t ${threads})`);
  }

  const connectTimeoutMs =
    v['connect-timeout'] === undefined
      ? DEFAULTS.connectTimeoutMs
      : integer('--connect-timeout', v['connect-timeout'], 1, 3_600_000);
  const timeoutMs = v.timeout === undefined ? DEFAULTS.timeoutMs : integer('--timeout', v.timeout, 0, 3_600_000);
  const graceMs = v.grace === undefined ? DEFAULTS.graceMs : integer('--grace', v.grace, 0, 3_600_000);

  if (v.html !== undefined && v.html.trim() === '') throw new UsageError('--html expects a file name');

  const json = v.json ?? false;
  const options: BenchOptions = {
    target,
    connections,
    threads,
    method,
    headers,
    pipeline,
    close,
    connectTimeoutMs,
    timeoutMs,
    graceMs,
    json,
    progress: env.isTTY && !json && !v['no-progress'],
  };
  if (requests !== undefined) options.requests = requests;
  if (durationMs !== undefined) options.durationMs = durationMs;
  if (body !== undefined) options.body = body;
  if (rate !== undefined) options.rate = rate;
  if (v.html !== undefined) options.html = v.html;
  return { help: false, options };
}
