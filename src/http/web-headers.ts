/**
 * `request.headers` of a lazy Web Request: a Headers over the parser's flat name/value list.
 * get() and has() read the list (what routers and middleware mostly do); anything else
 * (iteration, set/append/delete, getSetCookie, ...) builds an undici Headers once, from the same
 * list, and answers from it from then on. `instanceof Headers` holds.
 * Thread: the loop thread of its request. Owns the undici Headers it builds on first use.
 */
import { forwardToReal } from './web-forward.js';
import { headerName } from './web-response.js';

export class HeadersView {
  /** name0, value0, ... (names lower-cased), as parsed */
  readonly #raw: readonly string[];
  #real: Headers | undefined;

  constructor(raw: readonly string[]) {
    this.#raw = raw;
  }

  /** The combined value, as Headers joins repeated fields (", ", and "; " for Cookie); null when absent. */
  get(name: string): string | null {
    if (this.#real !== undefined) return this.#real.get(name);
    const key = headerName(name);
    const raw = this.#raw;
    let out: string | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i] === key) out = out === null ? raw[i + 1]! : `${out}${key === 'cookie' ? '; ' : ', '}${raw[i + 1]!}`;
    }
    return out;
  }

  has(name: string): boolean {
    if (this.#real !== undefined) return this.#real.has(name);
    const key = headerName(name);
    const raw = this.#raw;
    for (let i = 0; i < raw.length; i += 2) if (raw[i] === key) return true;
    return false;
  }

  /** The undici Headers, made once from the parsed list. */
  static real(h: HeadersView): Headers {
    if (h.#real === undefined) {
      const real = new Headers();
      const raw = h.#raw;
      for (let i = 0; i < raw.length; i += 2) real.append(raw[i]!, raw[i + 1]!);
      h.#real = real;
    }
    return h.#real;
  }

  /** The undici Headers if one was made (the view may have been changed through it), else undefined. */
  static made(h: HeadersView): Headers | undefined {
    return h.#real;
  }
}

Object.setPrototypeOf(HeadersView.prototype, Headers.prototype);
Object.defineProperty(HeadersView.prototype, 'constructor', { value: Headers, writable: true, configurable: true });
forwardToReal(HeadersView, Headers.prototype, (h) => HeadersView.real(h));
