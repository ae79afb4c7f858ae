/**
 * Shared parsing for the server commands' flags. Thread: main. Owns nothing.
 */
import { ACCEPT_STRATEGIES, type AcceptStrategy } from '../reactor/index.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  // A negative number is a number out of range, not "not a number": say the range.
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
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

/**
 * parseArgs reads the `-1` of `--backlog -1` as an option and calls the
 * value ambiguous; the user meant a (bad) number. A value that looks like a
 * negative number is attached to its option (`--backlog=-1`) so the range
 * check can name the flag and the range.
 */
export function attachNegativeValues(argv: string[], options: Record<string, { type: string; short?: string }>): string[] {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (takesValue.has(a) && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** parseArgs messages can span lines; a usage error is one line. */
export function oneLine(message: string): string {
  return message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

/** A bad flag: one line on stderr that names it, exit 2. The full usage is behind --help. */
export function usageError(command: string, err: unknown): number {
  console.error(`edgeloop ${command}: ${oneLine((err as Error).message)} (see edgeloop ${command} --help)`);
  return 2;
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
