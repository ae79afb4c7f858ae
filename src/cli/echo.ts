/**
 * `edgeloop echo`: a TCP echo server on the reactor. Thread: main (loops run
 * on workers when --loops > 1).
 */
import os from 'node:os';
import { TcpServer } from '../reactor/index.js';
import { flagHelp, parseFlags, usageError, UsageError } from './args.js';
import { plural } from './format.js';
import { onReloadSignal, onStopSignal, readTls, reloadTls, serverFlags, tlsFiles, tlsFlags, type TlsFiles } from './options.js';

/** Every flag of `echo`; --help lists each of them (a test holds it to that). */
export const FLAGS = { ...serverFlags, ...tlsFlags };

const HELP = `usage: edgeloop echo --port P [--host H] [--loops N] [--accept reuseport|exclusive|dispatcher] [--backlog N] [--proxy-protocol]
                     [--tls-cert FILE --tls-key FILE]

A TCP echo server. Prints "listening on HOST:PORT (N loops, accept=S, backlog=B)" when ready;
SIGINT/SIGTERM stop it gracefully. With --tls-cert and --tls-key it speaks TLS (the line ends
", tls)"), and SIGHUP re-reads both files.

${flagHelp(serverFlags)}

TLS (see docs/tls.md):
${flagHelp(tlsFlags)}`;

export async function main(argv: string[]): Promise<number> {
  let server: TcpServer;
  let tls: TlsFiles | undefined;
  try {
    const { values: v } = parseFlags(argv, FLAGS);
    if (v.help) {
      console.log(HELP);
      return 0;
    }
    if (v.port === undefined) throw new UsageError('--port is required');
    tls = tlsFiles(v);
    server = new TcpServer({
      ...(tls ? { tls: readTls(tls) } : {}),
      host: v.host ?? '127.0.0.1',
      port: v.port,
      loops: v.loops ?? os.availableParallelism(),
      accept: v.accept ?? 'reuseport',
      backlog: v.backlog,
      module: new URL('./echoHandlers.js', import.meta.url),
      ...(v['proxy-protocol'] ? { proxyProtocol: true } : {}),
    });
  } catch (err) {
    if (err instanceof UsageError) return usageError('echo', err);
    // A certificate or key that does not load: OpenSSL's reason, exit 1.
    console.error(`edgeloop echo: ${(err as Error).message}`);
    return 1;
  }
  let info;
  try {
    info = await server.listen();
  } catch (err) {
    console.error(`edgeloop echo: ${(err as Error).message}`);
    return 1;
  }
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  console.log(`listening on ${host}:${info.port} (${plural(info.loops, 'loop')}, accept=${info.accept}, backlog=${info.backlog}${tls ? ', tls' : ''})`);
  if (info.backlogTruncatedFrom) {
    console.error(`edgeloop echo: warning: backlog ${info.backlogTruncatedFrom} was cut to ${info.backlog} by net.core.somaxconn`);
  }
  if (tls) {
    const files = tls;
    onReloadSignal(() => reloadTls(files, server));
  }
  onStopSignal(() => server.stop({ timeout: 5000 }));
  return new Promise<number>(() => {
    // runs until a signal stops it
  });
}
