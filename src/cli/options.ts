/**
 * The flags `echo` and `serve` share, and their signal handling. Thread: main. Owns nothing.
 */
import os from 'node:os';
import { ACCEPT_STRATEGIES } from '../reactor/index.js';
import { flag } from './args.js';

/** The server flags shared by `echo` and `serve`; each command adds its own. */
export const serverFlags = {
  port: flag.port({ short: 'p', help: 'port to listen on (0 picks a free one)' }),
  host: flag.host({ help: 'address to bind (default 127.0.0.1; 0.0.0.0 or :: for every interface)' }),
  loops: flag.int({ min: 1, max: 1024, help: `event loops, one per thread (default: CPU count = ${os.availableParallelism()})` }),
  accept: flag.choice(ACCEPT_STRATEGIES, { help: `${ACCEPT_STRATEGIES.join(' | ')} (default reuseport)` }),
  backlog: flag.int({ min: 0, max: 2 ** 31 - 1, help: 'listen backlog (default: net.core.somaxconn)' }),
  'proxy-protocol': flag.bool({
    help: 'every connection starts with a PROXY protocol v1/v2 header (HAProxy send-proxy[-v2]);\nwithout a valid one it is closed unserved',
  }),
  help: flag.bool({ short: 'h', help: 'this text' }),
};

/** Stops on the first SIGINT/SIGTERM; a second one exits at once. */
export function onStopSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`edgeloop: ${sig}: stopping (draining connections; send again to exit now)`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`edgeloop: stop failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
