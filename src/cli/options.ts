/**
 * Shared parsing for the server commands' flags. Thread: main. Owns nothing.
 */
import { ACCEPT_STRATEGIES, type AcceptStrategy } from '../reactor/index.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function acceptOption(value: string | undefined): AcceptStrategy | undefined {
  if (value === undefined) return undefined;
  if (!(ACCEPT_STRATEGIES as readonly string[]).includes(value)) {
    throw new UsageError(`--accept must be one of ${ACCEPT_STRATEGIES.join(', ')}, got '${value}'`);
  }
  return value as AcceptStrategy;
}

/** The server flags shared by `echo` and `serve`. */
export const serverFlags = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  loops: { type: 'string' },
  accept: { type: 'string' },
  backlog: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

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
