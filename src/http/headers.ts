/**
 * Header access for handlers. Request headers are a read-only, case-insensitive
 * view over the parser's flat name/value list (names already lowercased), so a
 * request pays nothing for headers nobody reads. Lookups never touch an
 * object's prototype: a header called `__proto__` or `constructor` is just data.
 * Thread: the loop thread of the request. Owns nothing but a lazily built record.
 */
import { TCHAR } from './parser/chars.js';

export class RequestHeaders implements Iterable<[string, string]> {
  private record: Record<string, string> | null = null;

  constructor(
    /** name0, value0, name1, value1, ... names lowercased. */
    readonly raw: readonly string[],
  ) {}

  /** The field's value; repeated fields are joined with ", " (RFC 9110 §5.3), Cookie with "; ". */
  get(name: string): string | undefined {
    const key = lowerAscii(name);
    const raw = this.raw;
    let out: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i] === key) out = out === undefined ? raw[i + 1]! : `${out}${key === 'cookie' ? '; ' : ', '}${raw[i + 1]!}`;
    }
    return out;
  }

  /** Every value of a field, in order (Set-Cookie style fields). */
  getAll(name: string): string[] {
    const key = lowerAscii(name);
    const out: string[] = [];
    for (let i = 0; i < this.raw.length; i += 2) if (this.raw[i] === key) out.push(this.raw[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const key = lowerAscii(name);
    for (let i = 0; i < this.raw.length; i += 2) if (this.raw[i] === key) return true;
    return false;
  }

  get size(): number {
    return this.raw.length >> 1;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.raw.length; i += 2) yield [this.raw[i]!, this.raw[i + 1]!];
  }

  /** A plain record (null prototype) of the combined values, built once on demand. */
  toObject(): Readonly<Record<string, string>> {
    if (this.record === null) {
      const r: Record<string, string> = Object.create(null) as Record<string, string>;
      for (let i = 0; i < this.raw.length; i += 2) {
        const k = this.raw[i]!;
        const prev = r[k];
        r[k] = prev === undefined ? this.raw[i + 1]! : `${prev}${k === 'cookie' ? '; ' : ', '}${this.raw[i + 1]!}`;
      }
      this.record = Object.freeze(r);
    }
    return this.record;
  }

  /** [name, value] pairs, as `new Headers(...)` takes them. */
  pairs(): [string, string][] {
    const out: [string, string][] = new Array(this.raw.length >> 1);
    for (let i = 0; i < this.raw.length; i += 2) out[i >> 1] = [this.raw[i]!, this.raw[i + 1]!];
    return out;
  }
}

/** Lowercases ASCII letters; returns the same string when there are none (no allocation). */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

/**
 * Validates a response header name (a token: response splitting starts with a
 * CR or ':' in a name) and returns its lowercase key, in one pass.
 */
export function headerKey(name: string): string {
  // Handlers set the same literal names again and again: remember the last one checked.
  if (name === lastName) return lastKey;
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('header name must be a non-empty string');
  let upper = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || !TCHAR[c]) throw new TypeError(`invalid character in header name ${JSON.stringify(name)}`);
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  lastName = name;
  lastKey = upper ? name.toLowerCase() : name;
  return lastKey;
}

let lastName = 'content-type';
let lastKey = 'content-type';
let lastValue = '';

/** Throws unless `name` is a token: response splitting starts with a CR or ':' in a name. */
export function checkHeaderName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('header name must be a non-empty string');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || !TCHAR[c]) throw new TypeError(`invalid character in header name ${JSON.stringify(name)}`);
  }
}

/**
 * Throws unless `value` is a valid field value on the wire: no CR, LF, NUL or
 * other controls (response splitting), and latin1 only (the head is written as
 * latin1; encode other text yourself, e.g. RFC 8187).
 */
export function checkHeaderValue(name: string, value: string): void {
  if (value === lastValue) return;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
      throw new TypeError(`invalid character 0x${c.toString(16)} in the value of header ${JSON.stringify(name)}`);
    }
  }
  lastValue = value;
}
