/**
 * The fast Response: what `new Response(...)` makes once a fetch server runs in this thread.
 * undici's Response wraps every body in a ReadableStream and every header set in a HeadersList;
 * the fetch adapter then reads both back. For the bodies handlers return most (a string, bytes,
 * null, `Response.json()`, Hono's c.text/c.json/c.html/c.body) this one keeps what it was built
 * with, and the adapter writes that straight out with Content-Length. Its prototype chain goes
 * through undici's Response.prototype (`instanceof Response` holds for both kinds); anything
 * beyond status, headers and clone() builds the real undici Response once and answers from it.
 * Other bodies (streams, Blob, FormData, URLSearchParams) make the real one at construction.
 * Thread: any; each thread has its own class and installs it in its own global. A FastResponse
 * owns the body and fields it was built with and the undici Response it builds on first use.
 */
import { headerKey } from './headers.js';
import { forwardToReal } from './web-forward.js';

/** Shared by every copy of this module in a realm: the real class is found even if one copy installed its own. */
const REAL = Symbol.for('edgeloop.RealResponse');
type ResponseClass = typeof Response;
type BodyInit = ConstructorParameters<ResponseClass>[0];
type HeadersInit = ConstructorParameters<typeof Headers>[0];
const globalResponse = globalThis.Response as ResponseClass & { [REAL]?: ResponseClass };
/** undici's Response, whatever is installed as the global now. */
export const RealResponse: ResponseClass = globalResponse[REAL] ?? globalResponse;

const TEXT_PLAIN = 'text/plain;charset=UTF-8';
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** reason-phrase = *( HTAB / SP / VCHAR / obs-text ) */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Absolute http(s) URLs the URL parser serializes unchanged (lower-case scheme and host, no dot segments). */
const PLAIN_ABSOLUTE = /^https?:\/\/[a-z0-9.-]+(?::[1-9]\d{0,4})?(?:\/[A-Za-z0-9\-_~!$&()*+,;=:@/%]*)?(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*)?$/;

/** Bytes a fast body may be: written as they are when the response is sent. */
type FastBody = string | Uint8Array | null;

/** What the fetch adapter writes for a fast Response (one scratch object per thread: read it at once). */
export interface FastParts {
  status: number;
  body: FastBody;
  /** lower-cased name, value, name, value, ... (when `headers` is null) */
  fields: readonly string[];
  /** the Headers object once someone asked for it (it may have been changed since) */
  headers: Headers | null;
}

const NO_FIELDS: readonly string[] = [];
const TEXT_FIELDS = ['content-type', TEXT_PLAIN];
const scratch: FastParts = { status: 200, body: null, fields: NO_FIELDS, headers: null };

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** A header value as undici stores it: HTTP whitespace trimmed; NUL, CR, LF and non-latin1 refused. */
function headerValue(v: unknown): string {
  let s = typeof v === 'string' ? v : String(v);
  const n = s.length;
  if (n > 0 && (isWhitespace(s.charCodeAt(0)) || isWhitespace(s.charCodeAt(n - 1)))) s = s.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff) throw new TypeError(`Headers: invalid header value ${JSON.stringify(s)}`);
  }
  return s;
}

/** The lower-cased name; throws TypeError as Headers does for a name that is not a token. */
export function headerName(name: unknown): string {
  return headerKey(typeof name === 'string' ? name : String(name));
}

/** A HeadersInit that is not a Headers object, as the flat list undici would make of it. */
function fieldsOf(init: unknown): string[] {
  const out: string[] = [];
  if (init === undefined || init === null) return out;
  if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError('Response: init.headers must be an object');
  if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of init as Iterable<unknown>) {
      if (pair === null || typeof pair !== 'object' || typeof (pair as Iterable<unknown>)[Symbol.iterator] !== 'function') {
        throw new TypeError('Headers: each header must be a [name, value] pair');
      }
      const p = Array.isArray(pair) ? pair : [...(pair as Iterable<unknown>)];
      if (p.length !== 2) throw new TypeError('Headers: each header must be a [name, value] pair');
      out.push(headerName(p[0]), headerValue(p[1]));
    }
    return out;
  }
  const rec = init as Record<string, unknown>;
  for (const k of Object.keys(rec)) out.push(headerName(k), headerValue(rec[k]));
  return out;
}

function hasField(fields: readonly string[], key: string): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === key) return true;
  return false;
}

function toStatus(v: unknown): number {
  const n = Math.trunc(Number(v)) || 0;
  if (n < 200 || n > 599) throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
  return n;
}

export class FastResponse {
  /** undefined once the real Response holds everything. */
  #body: FastBody | undefined;
  #status = 200;
  #statusText = '';
  #fields: string[] | null = null;
  #headers: Headers | null = null;
  #real: Response | undefined;

  constructor(body?: unknown, init?: ResponseInit) {
    let b: FastBody;
    if (body === undefined || body === null) b = null;
    else if (typeof body === 'string') b = body;
    else if (body instanceof Uint8Array) b = body;
    else if (body instanceof ArrayBuffer) b = new Uint8Array(body);
    else if (ArrayBuffer.isView(body)) b = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    else {
      // A stream, Blob, FormData, URLSearchParams, or something to be stringified: undici's call.
      this.#real = new RealResponse(body as BodyInit, init);
      return;
    }
    if (init !== undefined && init !== null) {
      if (typeof init !== 'object') throw new TypeError('Response: init must be an object');
      if (init.status !== undefined) this.#status = toStatus(init.status);
      if (init.statusText !== undefined) {
        const t = String(init.statusText);
        if (!REASON_PHRASE.test(t)) throw new TypeError('Response: invalid statusText');
        this.#statusText = t;
      }
      const h = init.headers;
      // A Headers object may change after this; a copy is what undici keeps too.
      if (h instanceof Headers) this.#headers = new Headers(h);
      else if (h !== undefined) this.#fields = fieldsOf(h);
    }
    if (b !== null && NULL_BODY_STATUS.has(this.#status)) {
      throw new TypeError(`Response constructor: Invalid response status code ${this.#status}`);
    }
    if (typeof b === 'string') {
      if (this.#headers !== null) {
        if (!this.#headers.has('content-type')) this.#headers.set('content-type', TEXT_PLAIN);
      } else if (this.#fields === null) {
        this.#fields = TEXT_FIELDS; // shared: a list that came from init is the only one ever appended to
      } else if (!hasField(this.#fields, 'content-type')) {
        this.#fields.push('content-type', TEXT_PLAIN);
      }
    }
    this.#body = b;
  }

  get status(): number {
    return this.#real === undefined ? this.#status : this.#real.status;
  }

  get ok(): boolean {
    const s = this.status;
    return s >= 200 && s <= 299;
  }

  get statusText(): string {
    return this.#real === undefined ? this.#statusText : this.#real.statusText;
  }

  get headers(): Headers {
    if (this.#headers !== null) return this.#headers;
    if (this.#real !== undefined) return this.#real.headers;
    const h = new Headers();
    const f = this.#fields;
    if (f !== null) for (let i = 0; i < f.length; i += 2) h.append(f[i]!, f[i + 1]!);
    this.#fields = null;
    return (this.#headers = h);
  }

  get type(): Response['type'] {
    return this.#real === undefined ? 'default' : this.#real.type;
  }

  get url(): string {
    return this.#real === undefined ? '' : this.#real.url;
  }

  get redirected(): boolean {
    return this.#real === undefined ? false : this.#real.redirected;
  }

  get bodyUsed(): boolean {
    return this.#real === undefined ? false : this.#real.bodyUsed;
  }

  /** A second fast Response from the same source (the body is not read: nothing to tee). */
  clone(): Response {
    if (this.#real !== undefined) return this.#real.clone();
    const c = new FastResponse(null);
    c.#body = this.#body;
    c.#status = this.#status;
    c.#statusText = this.#statusText;
    if (this.#headers !== null) c.#headers = new Headers(this.#headers);
    else if (this.#fields !== null) c.#fields = this.#fields.slice();
    return c as unknown as Response;
  }

  /**
   * What to write for `r`, or null when it is not a fast Response still holding its source
   * (a real one, or one whose real Response was made: its body is a stream by now).
   */
  static parts(r: unknown): FastParts | null {
    if (typeof r !== 'object' || r === null || !(#body in r) || r.#real !== undefined) return null;
    const p = scratch;
    p.status = r.#status;
    p.body = r.#body!;
    p.fields = r.#fields ?? NO_FIELDS;
    p.headers = r.#headers;
    return p;
  }

  /** The undici Response, made once, from the same inputs (the headers as they are now). */
  static real(r: FastResponse): Response {
    if (r.#real === undefined) {
      r.#real = new RealResponse(r.#body, { status: r.#status, statusText: r.#statusText, headers: r.headers });
      r.#body = undefined;
    }
    return r.#real;
  }

  static json(data?: unknown, init?: ResponseInit): Response {
    const body = JSON.stringify(data);
    if (body === undefined) throw new TypeError('Response.json: the data is not JSON serializable');
    const h = init?.headers;
    let headers: HeadersInit;
    if (h === undefined || h === null) {
      headers = [['content-type', 'application/json']];
    } else {
      const copy = new Headers(h);
      if (!copy.has('content-type')) copy.set('content-type', 'application/json');
      headers = copy;
    }
    return new FastResponse(body, { status: init?.status, statusText: init?.statusText, headers }) as unknown as Response;
  }

  static redirect(url: string | URL, status = 302): Response {
    const s = String(url);
    const location = PLAIN_ABSOLUTE.test(s) && !/\/\.|%2e/i.test(s) ? s : new URL(s).href;
    if (!REDIRECT_STATUS.has(status)) throw new RangeError(`Response.redirect: invalid status code ${status}`);
    return new FastResponse(null, { status, headers: [['location', location]] }) as unknown as Response;
  }

  /** `instanceof Response` holds for undici's Responses too (fetch() results, Response.error()). */
  static [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this === FastResponse ? RealResponse : this, v);
  }
}

Object.setPrototypeOf(FastResponse, RealResponse); // statics it does not answer (Response.error) are undici's
Object.setPrototypeOf(FastResponse.prototype, RealResponse.prototype);
Object.defineProperty(FastResponse, REAL, { value: RealResponse });
// Everything else Response.prototype has (body, text(), json(), arrayBuffer(), blob(), formData(),
// bytes(); whatever a later Node adds) is answered by the real Response.
forwardToReal(FastResponse, RealResponse.prototype, (r) => FastResponse.real(r));

/**
 * Makes `Response` in this thread's global the fast one (idempotent). Code that took the global
 * before (`const R = Response` at module load, a Response built before serve()) keeps undici's:
 * those Responses are still served, through the streaming path.
 */
export function installFastResponse(): void {
  if (globalThis.Response === (FastResponse as unknown)) return;
  Object.defineProperty(globalThis, 'Response', { value: FastResponse, writable: true, configurable: true, enumerable: false });
}
