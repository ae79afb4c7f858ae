/**
 * `edgeloop echo`: a TCP echo server on the reactor. Thread: main (loops run
 * on workers when --loops > 1).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { TcpServer } from '../reactor/index.js';
import { acceptOption, attachNegativeValues, intOption, onStopSignal, serverFlags, usageError, UsageError } from './options.js';

const HELP = `usage: edgeloop echo --port P [--host H] [--loops N] [--accept reuseport|exclusive|dispatcher] [--backlog N]

A TCP echo server. Prints "listening on HOST:PORT (N loops, accept=S, backlog=B)" when ready;
SIGINT/SIGTERM stop it gracefully.

  -p, --port P     port to listen on (0 picks a free one)
  --host H         address to bind (default 127.0.0.1; 0.0.0.0 or :: for every interface)
  --loops N        event loops, one per thread (default: CPU count = ${os.availableParallelism()})
  --accept S       reuseport (default) | exclusive | dispatcher
  --backlog N      listen backlog (default: net.core.somaxconn)`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: attachNegativeValues(argv, serverFlags), options: serverFlags, strict: true }));
  } catch (err) {
    return usageError('echo', err);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let server: TcpServer;
  try {
    const port = intOption('port', values.port, 0, 65535);
    if (port === undefined) throw new UsageError('--port is required');
    server = new TcpServer({
      host: values.host ?? '127.0.0.1',
      port,
      loops: intOption('loops', values.loops, 1, 1024) ?? os.availableParallelism(),
      accept: acceptOption(values.accept) ?? 'reuseport',
      backlog: intOption('backlog', values.backlog, 0, 2 ** 31 - 1),
      module: new URL('./echoHandlers.js', import.meta.url),
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
  console.log(`listening on ${host}:${info.port} (${info.loops} loops, accept=${info.accept}, backlog=${info.backlog})`);
  if (info.backlogTruncatedFrom) {
    console.error(`edgeloop echo: warning: backlog ${info.backlogTruncatedFrom} was cut to ${info.backlog} by net.core.somaxconn`);
  }
  onStopSignal(() => server.stop({ timeout: 5000 }));
  return new Promise<number>(() => {
    // runs until a signal stops it
  });
}
