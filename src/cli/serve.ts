/**
 * `edgeloop serve`: the HTTP/1.1 demo server. Thread: main (loops run on
 * workers when --loops > 1, each loading the demo app module).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { serve, type HttpServer, type ServeOptions } from '../http/index.js';
import { acceptOption, attachNegativeValues, intOption, onStopSignal, serverFlags, usageError, UsageError } from './options.js';

const HELP = `usage: edgeloop serve --port P [--host H] [--loops N] [--accept reuseport|exclusive|dispatcher] [--backlog N]

HTTP/1.1 demo server. Prints "listening on http://HOST:PORT (N loops, accept=S, backlog=B)" when
ready; SIGINT/SIGTERM drain it gracefully (in-flight requests finish, idle connections close).

Routes:
  GET  /             an index of these routes (HTML)
  GET  /hello        200 "hello" (text/plain)
  POST /echo         the request body back, with the request's Content-Type
  GET  /delay?ms=N   waits N ms on a timer, then 200
  GET  /bytes?n=N    N bytes
  GET  /stats        per-loop counters as JSON (accepted, active, requests, closed by reason, ...)

Options:
  -p, --port P            port to listen on (0 picks a free one; default 8080)
  --host H                address to bind (default 127.0.0.1; 0.0.0.0 or :: for every interface)
  --loops N               event loops, one per thread (default: CPU count = ${os.availableParallelism()})
  --accept S              reuseport (default) | exclusive | dispatcher
  --backlog N             listen backlog (default: net.core.somaxconn)
  --max-body BYTES        largest request body (default 16777216): 413 beyond
  --keep-alive-timeout MS idle keep-alive connections close after MS (default 5000)`;

const flags = {
  ...serverFlags,
  'max-body': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
} as const;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: attachNegativeValues(argv, flags), options: flags, strict: true, allowPositionals: false }));
  } catch (err) {
    return usageError('serve', err);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let options: ServeOptions;
  try {
    const maxBody = intOption('max-body', values['max-body'], 1, Number.MAX_SAFE_INTEGER);
    const keepAlive = intOption('keep-alive-timeout', values['keep-alive-timeout'], 1, 2 ** 31 - 1);
    options = {
      host: values.host ?? '127.0.0.1',
      port: intOption('port', values.port, 0, 65535) ?? 8080,
      loops: intOption('loops', values.loops, 1, 1024) ?? os.availableParallelism(),
      accept: acceptOption(values.accept) ?? 'reuseport',
      backlog: intOption('backlog', values.backlog, 0, 2 ** 31 - 1),
      module: new URL('../http/demo.js', import.meta.url),
      ...(maxBody !== undefined ? { limits: { maxBodyBytes: maxBody } } : {}),
      ...(keepAlive !== undefined ? { keepAliveTimeout: keepAlive } : {}),
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
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
  console.log(`listening on ${server.url} (${info.loops} loops, accept=${info.accept}, backlog=${info.backlog})`);
  if (info.backlogTruncatedFrom) {
    console.error(`edgeloop serve: warning: backlog ${info.backlogTruncatedFrom} was cut to ${info.backlog} by net.core.somaxconn`);
  }
  onStopSignal(() => server.stop({ timeout: 5000 }));
  return new Promise<number>(() => {
    // runs until a signal stops it
  });
}
