/**
 * `edgeloop echo`: a TCP echo server on the reactor. Thread: main (loops run
 * on workers when --loops > 1).
 */
import os from 'node:os';
import { TcpServer } from '../reactor/index.js';
import { flagHelp, parseFlags, usageError, UsageError } from './args.js';
import { plural } from './format.js';
import { onStopSignal, serverFlags } from './options.js';

const FLAGS = serverFlags;

const HELP = `usage: edgeloop echo --port P [--host H] [--loops N] [--accept reuseport|exclusive|dispatcher] [--backlog N] [--proxy-protocol]

A TCP echo server. Prints "listening on HOST:PORT (N loops, accept=S, backlog=B)" when ready;
SIGINT/SIGTERM stop it gracefully.

${flagHelp(FLAGS)}`;

export async function main(argv: string[]): Promise<number> {
  let server: TcpServer;
  try {
    const { values: v } = parseFlags(argv, FLAGS);
    if (v.help) {
      console.log(HELP);
      return 0;
    }
    if (v.port === undefined) throw new UsageError('--port is required');
    server = new TcpServer({
      host: v.host ?? '127.0.0.1',
      port: v.port,
      loops: v.loops ?? os.availableParallelism(),
      accept: v.accept ?? 'reuseport',
      backlog: v.backlog,
      module: new URL('./echoHandlers.js', import.meta.url),
      ...(v['proxy-protocol'] ? { proxyProtocol: true } : {}),
    });
  } catch (err) {
    return usageError('echo', err);
  }
  let info;
  try {
    info = await server.listen();
  } catch (err) {
    console.error(`edgeloop echo: ${(err as Error).message}`);
    return 1;
  }
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  console.log(`listening on ${host}:${info.port} (${plural(info.loops, 'loop')}, accept=${info.accept}, backlog=${info.backlog})`);
  if (info.backlogTruncatedFrom) {
    console.error(`edgeloop echo: warning: backlog ${info.backlogTruncatedFrom} was cut to ${info.backlog} by net.core.somaxconn`);
  }
  onStopSignal(() => server.stop({ timeout: 5000 }));
  return new Promise<number>(() => {
    // runs until a signal stops it
  });
}
