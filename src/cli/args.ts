/**
 * The one argument layer of every `edgeloop` command: the UsageError, strict
 * value parsers (integers, decimals, durations, sizes, ports, hosts, choices)
 * and a typed flag table over node:util parseArgs. Thread: main. Owns nothing.
 *
 * Adding a flag is one line in the command's table:
 *
 *   const FLAGS = {
 *     port: flag.port({ short: 'p', help: 'port to listen on (default 8080)' }),
 *     'keep-alive-timeout': flag.duration({ bare: 'ms', help: 'idle keep-alive connections close after T (default 5s)' }),
 *     'max-body': flag.size({ min: 1, help: 'largest request body (default 16m): 413 beyond' }),
 *     json: flag.bool({ help: 'print JSON' }),
 *   } satisfies Flags;
 *   const { values, positionals } = parseFlags(argv, FLAGS);   // values['max-body']: number | undefined
 *   const help = flagHelp(FLAGS);                              // the aligned "Options:" lines for --help
 *
 * The value is parsed and range-checked while the command line is read, so a
 * bad value is a UsageError naming the flag, the accepted form and what was
 * typed (quoted as typed); `usageError()` prints it as one line and gives exit 2.
 *
 * The rules, the same for every command:
 * - Numbers are plain decimals: no '0x10', no '1e3', no blanks, no '+', no
 *   empty value. Integers have no fraction ('80.0' is refused).
 * - Durations: a decimal with a unit, ms | s | m | h (500ms, 2s, 1.5s, 1m).
 *   A bare number keeps the unit the flag always had, named per flag
 *   (`bare: 'ms'` for timeouts, `bare: 's'` for bench -d, lab and doctor
 *   --seconds) and said in its help. The result is whole milliseconds.
 * - Sizes: a decimal with a binary unit, k | m | g (also kb, kib, ...; any
 *   case; 16k = 16384, 1m = 1048576); a bare number is bytes. Whole bytes.
 * - Ports: 0 to 65535 (a flag may raise the minimum, e.g. doctor's 1).
 * - Hosts: an IP address (IPv6 with or without brackets) or a DNS name.
 * - A value that looks negative (`--backlog -1`) is taken as the flag's value,
 *   so the range check names the flag instead of parseArgs calling it ambiguous.
 * - A flag with `ifBare` may be given without a value (`--access-log` alone,
 *   or followed by another flag): it then has that value. `-` is a value.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { durationArg } from './format.js';

/** A mistake on the command line: the CLI prints the message as one line and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

// ---------------------------------------------------------------- values

const INTEGER = /^-?[0-9]+$/;
const DECIMAL = /^-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$/;
const WITH_UNIT = /^((?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))([a-zA-Z]*)$/;

export interface Range {
  min?: number;
  max?: number;
}

function inRange(label: string, raw: string, n: number, min: number, max: number, unit = ''): number {
  if (n < min || n > max) throw new UsageError(`${label} must be from ${min}${unit} to ${max}${unit}, got '${raw}'`);
  return n;
}

/** A whole number in [min, max] (defaults 0 and MAX_SAFE_INTEGER). */
export function parseInteger(label: string, raw: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: Range = {}): number {
  if (!INTEGER.test(raw)) throw new UsageError(`${label} must be a whole number, got '${raw}'`);
  return inRange(label, raw, Number(raw), min, max);
}

/** A decimal number (fractions allowed) in [min, max]; `above` makes the minimum exclusive. */
export function parseDecimal(
  label: string,
  raw: string,
  { min = 0, max = Number.MAX_SAFE_INTEGER, above = false }: Range & { above?: boolean } = {},
): number {
  if (!DECIMAL.test(raw)) throw new UsageError(`${label} must be a number, got '${raw}'`);
  const n = Number(raw);
  if (above && n <= min) throw new UsageError(`${label} must be more than ${min}, got '${raw}'`);
  return inRange(label, raw, n, min, max);
}

export type TimeUnit = 'ms' | 's';
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration in whole milliseconds. `bare` is the unit of a number without
 * one; min and max are in milliseconds (min defaults to 1: zero is refused
 * unless the flag allows it, e.g. "0 = none").
 */
export function parseDuration(label: string, raw: string, { bare, min = 1, max = 24 * 3_600_000 }: Range & { bare: TimeUnit }): number {
  const m = WITH_UNIT.exec(raw);
  const scale = m ? TIME_UNITS[m[2] || bare] : undefined;
  const bareWord = bare === 'ms' ? 'milliseconds' : 'seconds';
  if (!m || scale === undefined) {
    throw new UsageError(`${label} expects a duration like 500ms, 2s or 1m (a bare number is ${bareWord}), got '${raw}'`);
  }
  const ms = Number(m[1]) * scale;
  if (!Number.isInteger(ms)) throw new UsageError(`${label} must be a whole number of milliseconds, got '${raw}'`);
  if (ms < min || ms > max) throw new UsageError(`${label} must be from ${durationArg(min)} to ${durationArg(max)}, got '${raw}'`);
  return ms;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A size in whole bytes: 512, 16k, 64KiB, 1.5m, 1g (binary units, any case). */
export function parseSize(label: string, raw: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: Range = {}): number {
  const m = WITH_UNIT.exec(raw);
  const scale = m ? SIZE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || scale === undefined) throw new UsageError(`${label} expects a size like 512, 16k, 64KiB or 1m (a bare number is bytes), got '${raw}'`);
  const n = Number(m[1]) * scale;
  if (!Number.isInteger(n)) throw new UsageError(`${label} must be a whole number of bytes, got '${raw}'`);
  return inRange(label, raw, n, min, max);
}

/** A TCP port: 0 (the kernel picks one) to 65535 unless min says otherwise. */
export function parsePort(label: string, raw: string, { min = 0 }: { min?: number } = {}): number {
  return parseInteger(label, raw, { min, max: 65535 });
}

const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An address to bind or connect to: an IP literal (brackets around IPv6 are dropped) or a DNS name. */
export function parseHost(label: string, raw: string): string {
  const unbracketed = /^\[.*\]$/.test(raw) ? raw.slice(1, -1) : raw;
  if (net.isIP(unbracketed) !== 0) return unbracketed;
  if (unbracketed === raw && HOSTNAME.test(raw)) return raw;
  throw new UsageError(`${label} must be an IP address or a host name, got '${raw}'`);
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(label: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`${label} must be one of ${choices.join(', ')}, got '${raw}'`);
  return raw as T;
}

/**
 * A file the command will write after its run: checked now, so a typo in the
 * directory fails before minutes of work rather than after.
 */
export function parseOutputFile(label: string, raw: string): string {
  parseText(label, raw, 'a file name');
  const dir = path.dirname(path.resolve(raw));
  let why: string | undefined;
  try {
    if (!fs.statSync(dir).isDirectory()) why = `${dir} is not a directory`;
    else if (fs.statSync(raw, { throwIfNoEntry: false })?.isDirectory()) why = `${raw} is a directory`;
    else fs.accessSync(fs.existsSync(raw) ? raw : dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    why = code === 'ENOENT' ? `directory ${dir} does not exist (ENOENT)` : `cannot write there (${code})`;
  }
  if (why !== undefined) throw new UsageError(`${label} ${raw}: ${why}`);
  return raw;
}

/** A file the command will read (a certificate, a key): it must exist and be readable now. */
export function parseInputFile(label: string, raw: string): string {
  parseText(label, raw, 'a file name');
  try {
    if (fs.statSync(raw).isDirectory()) throw new UsageError(`${label} ${raw}: is a directory`);
    fs.accessSync(raw, fs.constants.R_OK);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`${label} ${raw}: cannot read it (${code === 'ENOENT' ? 'ENOENT: no such file' : code})`);
  }
  return raw;
}

/** Free text that must not be blank (a file name, a URL). */
export function parseText(label: string, raw: string, what = 'a value'): string {
  if (raw.trim() === '') throw new UsageError(`${label} expects ${what}`);
  return raw;
}

/** A comma-separated list without empty items, each checked by `item`. */
export function parseCsv<T>(label: string, raw: string, item: (raw: string, label: string) => T): T[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) throw new UsageError(`${label} must be a comma-separated list without empty items, got '${raw}'`);
  return parts.map((p) => item(p, label));
}

// ---------------------------------------------------------------- flags

/** One flag: how parseArgs reads it, how its value is checked, and its --help line. */
export interface Flag<T> {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The name used in messages; default `--name`. */
  label?: string;
  /** Placeholder in --help ('N', 'T', 'BYTES'); absent for booleans. */
  metavar?: string;
  /** The value of the flag given without one (`--access-log` alone means '-'). */
  ifBare?: string;
  /** One line (or more, joined by '\n') for --help; a flag without help is not listed. */
  help?: string;
  parse: (raw: string, label: string) => T;
}

export type Flags = Record<string, Flag<unknown>>;

/** The parsed values: each flag's type, `undefined` when absent (`T[]` for repeatable flags). */
export type FlagValues<F extends Flags> = {
  [K in keyof F]: F[K] extends Flag<infer T> ? (F[K]['multiple'] extends true ? T[] : T | undefined) : never;
};

interface Common {
  short?: string;
  ifBare?: string;
  label?: string;
  metavar?: string;
  help?: string;
}

const str = <T>(c: Common, metavar: string, parse: (raw: string, label: string) => T): Flag<T> => ({
  type: 'string',
  metavar,
  ...c,
  parse,
});

/** Builders for the flag table: one call per flag. */
export const flag = {
  bool: (c: Common = {}): Flag<boolean> => ({ type: 'boolean', ...c, parse: () => true }),
  int: (c: Common & Range = {}): Flag<number> => str(c, 'N', (raw, l) => parseInteger(l, raw, c)),
  decimal: (c: Common & Range & { above?: boolean } = {}): Flag<number> => str(c, 'N', (raw, l) => parseDecimal(l, raw, c)),
  duration: (c: Common & Range & { bare: TimeUnit }): Flag<number> => str(c, 'T', (raw, l) => parseDuration(l, raw, c)),
  size: (c: Common & Range = {}): Flag<number> => str(c, 'BYTES', (raw, l) => parseSize(l, raw, c)),
  port: (c: Common & { min?: number } = {}): Flag<number> => str(c, 'P', (raw, l) => parsePort(l, raw, c)),
  host: (c: Common = {}): Flag<string> => str(c, 'H', (raw, l) => parseHost(l, raw)),
  choice: <T extends string>(choices: readonly T[], c: Common = {}): Flag<T> => str(c, 'S', (raw, l) => parseChoice(l, raw, choices)),
  /** Any text, even empty (a request body). */
  string: (c: Common = {}): Flag<string> => str(c, 'TEXT', (raw) => raw),
  /** Text that must not be blank. */
  text: (c: Common & { what?: string } = {}): Flag<string> => str(c, 'TEXT', (raw, l) => parseText(l, raw, c.what)),
  /** A file read by the command, checked when the command line is read. */
  input: (c: Common = {}): Flag<string> => str(c, 'FILE', (raw, l) => parseInputFile(l, raw)),
  /** A file written after the run, checked before it starts. */
  output: (c: Common = {}): Flag<string> => str(c, 'FILE', (raw, l) => parseOutputFile(l, raw)),
  /** A comma-separated list (`a,b/16,c`): no empty items; `item` checks each one. */
  csv: <T = string>(c: Common & { item?: (raw: string, label: string) => T } = {}): Flag<T[]> =>
    str(c, 'LIST', (raw, l) => parseCsv(l, raw, c.item ?? ((x) => x as unknown as T))),
  /** Repeatable text (-H 'K: V' -H ...); `parse` checks each one. */
  list: <T>(parse: (raw: string, label: string) => T, c: Common = {}): Flag<T> & { multiple: true } => ({
    ...str(c, 'TEXT', parse),
    multiple: true,
  }),
};

export interface Parsed<F extends Flags> {
  values: FlagValues<F>;
  positionals: string[];
}

/**
 * Reads argv against the flag table. Unknown flags, missing values and bad
 * values are UsageErrors with a one-line message.
 */
export function parseFlags<F extends Flags>(argv: string[], flags: F, { positionals = false } = {}): Parsed<F> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, f] of Object.entries(flags)) {
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeValues(fillBareValues(argv, flags), options), options, strict: true, allowPositionals: positionals });
  } catch (err) {
    // parseArgs explains how to pass a positional that starts with '-'; the first sentence is the error.
    const msg = err instanceof Error ? err.message : String(err);
    throw new UsageError(oneLine(msg.split(/\.\s/)[0] ?? msg));
  }
  const values: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(flags)) {
    const raw = (parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>)[name];
    const label = f.label ?? `--${name}`;
    if (raw === undefined) values[name] = f.multiple ? [] : undefined;
    else if (Array.isArray(raw)) values[name] = raw.map((r) => f.parse(String(r), label));
    else values[name] = f.type === 'boolean' ? raw : f.parse(raw as string, label);
  }
  return { values: values as FlagValues<F>, positionals: parsed.positionals };
}

/**
 * parseFlags for a script with no subcommands (the benchmarks under bench/):
 * a bad command line prints `program: message` and exits 2.
 */
export function parseFlagsOrExit<F extends Flags>(program: string, argv: string[], flags: F): FlagValues<F> {
  try {
    return parseFlags(argv, flags).values;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${program}: ${err.message}`);
    process.exit(2);
  }
}

/** The aligned option lines of a --help text, in table order. */
export function flagHelp(flags: Flags, indent = '  '): string {
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries(flags)) {
    if (f.help === undefined) continue;
    const names = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.metavar && f.type === 'string' ? ` ${f.metavar}` : ''}`;
    rows.push([names, f.help]);
  }
  const width = Math.max(0, ...rows.map(([n]) => n.length)) + 2;
  return rows
    .map(([n, h]) => h.split('\n').map((line, i) => `${indent}${(i === 0 ? n : '').padEnd(width)}${line}`).join('\n'))
    .join('\n');
}

/** `--flag` without a value, for flags that allow it, becomes `--flag=<ifBare>`. */
function fillBareValues(argv: string[], flags: Flags): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const f = a.startsWith('--') ? flags[a.slice(2)] : undefined;
    const next = argv[i + 1];
    if (f?.ifBare !== undefined && (next === undefined || (next.startsWith('-') && next !== '-'))) out.push(`${a}=${f.ifBare}`);
    else out.push(a);
  }
  return out;
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
    const a = argv[i] as string;
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
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/**
 * A bad command line: one line on stderr naming the problem, exit 2. The
 * full usage is behind --help. Anything that is not a UsageError is a bug
 * and is rethrown.
 */
export function usageError(command: string, err: unknown): 2 {
  if (!(err instanceof UsageError)) throw err;
  console.error(`edgeloop ${command}: ${oneLine(err.message)} (see edgeloop ${command} --help)`);
  return 2;
}
