/**
 * `edgeloop serve`: the HTTP/1.1 demo server. Thread: main (loops run on
 * workers when --loops > 1, each loading the demo app module).
 */
import os from 'node:os';
import { serve, type HttpServer, type ServeOptions } from '../http/index.js';
import { flag, flagHelp, parseFlags, parsePort, usageError } from './args.js';
import { plural } from './format.js';
import { onStopSignal, serverFlags } from './options.js';

const FLAGS = {
  ...serverFlags,
  port: flag.port({ short: 'p', help: 'port to listen on (default: $PORT, else 8080; 0 picks a free one)' }),
  'max-body': flag.size({ min: 1, help: 'largest request body (default 16m): 413 beyond' }),
  'keep-alive-timeout': flag.duration({ bare: 'ms', help: 'idle keep-alive connections close after T (default 5s; a bare number is ms)' }),
};

const HELP = `usage: edgeloop serve [--port P] [--host H] [--loops N] [--accept reuseport|exclusive|dispatcher] [options]

HTTP/1.1 demo server. Prints "listening on http://HOST:PORT (N loops, accept=S, backlog=B)" when
ready; SIGINT/SIGTERM drain it gracefully (in-flight requests finish, idle connections close).

Routes:
  GET  /             an index of these routes (HTML)
  GET  /hello        200 "hello" (text/plain)
  POST /echo         the request body back, with the request's Content-Type
  GET  /delay?ms=N   waits N ms on a timer, then 200
  GET  /bytes?n=N    N bytes
  GET  /stats        per-loop counters as JSON (accepted, active, requests, closed by reason, ...)
  WS   /ws           WebSocket echo: text back as text, binary as binary
  WS   /pubsub/TOPIC  each message goes to every other subscriber of TOPIC, on any loop

Options:
${flagHelp(FLAGS)}

Durations take ms, s, m or h (500ms, 2s, 1m); sizes take k, m or g (16k, 1m).`;

export async function main(argv: string[]): Promise<number> {
  let options: ServeOptions;
  try {
    const { values: v } = parseFlags(argv, FLAGS);
    if (v.help) {
      console.log(HELP);
      return 0;
    }
    // --port wins over $PORT (the platform convention: Heroku, Cloud Run, ...); an empty PORT is unset.
    const envPort = process.env.PORT ? parsePort('PORT', process.env.PORT) : undefined;
    options = {
      host: v.host ?? '127.0.0.1',
      port: v.port ?? envPort ?? 8080,
      loops: v.loops ?? os.availableParallelism(),
      accept: v.accept ?? 'reuseport',
      backlog: v.backlog,
      module: new URL('../http/demo.js', import.meta.url),
      ...(v['max-body'] !== undefined ? { limits: { maxBodyBytes: v['max-body'] } } : {}),
      ...(v['keep-alive-timeout'] !== undefined ? { keepAliveTimeout: v['keep-alive-timeout'] } : {}),
    };
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
  onStopSignal(() => server.stop({ timeout: 5000 }));
  return new Promise<number>(() => {
    // runs until a signal stops it
  });
}
