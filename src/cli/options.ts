/**
 * The flags `echo` and `serve` share, and their signal handling. Thread: main. Owns nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import { ACCEPT_STRATEGIES } from '../reactor/index.js';
import type { TlsServerOptions } from '../reactor/tls/options.js';
import { flag, UsageError } from './args.js';

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

/** TLS for `echo` and `serve`: a PEM certificate (chain) and its key. */
export const tlsFlags = {
  'tls-cert': flag.input({ help: 'serve TLS with this PEM certificate (leaf first, then its chain); needs --tls-key' }),
  'tls-key': flag.input({ help: 'the PEM private key of --tls-cert (ECDSA or RSA, unencrypted)' }),
};

export interface TlsFiles {
  cert: string;
  key: string;
}

/** Both TLS files or neither. */
export function tlsFiles(v: { 'tls-cert'?: string | undefined; 'tls-key'?: string | undefined }): TlsFiles | undefined {
  const cert = v['tls-cert'];
  const key = v['tls-key'];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined) throw new UsageError('--tls-key needs --tls-cert');
  if (key === undefined) throw new UsageError('--tls-cert needs --tls-key');
  return { cert, key };
}

/** Reads the files (again, on reload). */
export function readTls(files: TlsFiles): TlsServerOptions {
  return { cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) };
}

/**
 * Re-reads the certificate and key into the server: new handshakes use them,
 * live connections go on. Files that do not load keep the old ones (the
 * rejection says why).
 */
export async function reloadTls(files: TlsFiles, server: { setSecureContext(tls: TlsServerOptions): Promise<void> }): Promise<void> {
  try {
    await server.setSecureContext(readTls(files));
  } catch (err) {
    throw new Error(`TLS reload failed, keeping the old certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
  console.error(`edgeloop: SIGHUP: reloaded TLS certificate ${files.cert} and key ${files.key}`);
}

/**
 * SIGHUP runs `reload`; one runs at a time (a SIGHUP during a reload runs
 * once more after it). A failed reload is reported and the server keeps serving.
 */
export function onReloadSignal(reload: () => Promise<void>): void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    reload()
      .catch((err: unknown) => console.error(`edgeloop: SIGHUP: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  process.on('SIGHUP', () => {
    if (running) again = true;
    else run();
  });
}

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
