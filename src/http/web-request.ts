/**
 * A Web Request that costs next to nothing until a handler needs more than method, URL and
 * headers. undici's Request constructor is most of the fetch adapter's request-side cost (an
 * AbortController, URL parsing, a HeadersList per request); most handlers read three fields.
 * Thread: the loop thread of its request. Owns the undici Request it builds on first use (and,
 * through it, the request body stream).
 */
import type { HttpRequest } from './request.js';
import { forwardToReal } from './web-forward.js';
import { HeadersView } from './web-headers.js';

/** Methods the Fetch standard refuses to put in a Request (compared upper-cased, as undici does). */
export const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** undici upper-cases these, and only these, whatever case they were sent in. */
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/**
 * Origin-form targets the URL parser would serialize unchanged: only characters it leaves
 * alone, no dot segments (it resolves them, also spelled %2e), no "'" (it escapes it in
 * queries). Anything else goes through `new URL`, slower but exact.
 */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*)?$/;
const DOT_SEGMENT = /\/\.|%2e/i;
/**
 * Hosts the URL parser keeps as they are: lower-case names whose last label cannot be read as
 * a number (it would become an IPv4 address), or a canonical dotted quad; an optional port
 * without leading zeros (80, the default, is dropped by the parser and left to it).
 */
const PLAIN_HOST =
  /^(?:(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::([1-9]\d{0,4}))?$/;

/** The last host checked, and whether the URL parser keeps it as it is (one per thread: hosts repeat). */
let lastHost = '';
let lastHostPlain = false;

function plainHost(host: string): boolean {
  if (host === lastHost) return lastHostPlain;
  const m = PLAIN_HOST.exec(host);
  const plain =
    m !== null &&
    (m[1] === undefined || (m[1] !== '80' && +m[1] <= 65535)) &&
    !host.includes('xn--'); // punycode labels are decoded and checked
  lastHost = host;
  lastHostPlain = plain;
  return plain;
}

/** The last plain origin-form URL made, from its host and target (one per thread: keep-alive clients repeat both). */
let lastUrlHost = '';
let lastUrlTarget = '';
let lastUrl = '';

/** request.url for a native request, as `new Request(url)` would serialize it. Throws when the URL parser refuses it. */
export function webUrl(req: HttpRequest): string {
  const target = req.url;
  if (target.charCodeAt(0) === 0x2f) {
    const host = req.host || 'localhost';
    if (target === lastUrlTarget && host === lastUrlHost) return lastUrl;
    if (plainHost(host) && PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) {
      lastUrlHost = host;
      lastUrlTarget = target;
      return (lastUrl = `http://${host}${target}`);
    }
    return parsed(`http://${host}${target}`);
  }
  return parsed(target === '*' ? `http://${req.host || 'localhost'}/` : target);
}

function parsed(url: string): string {
  const u = new URL(url);
  // as the Request constructor does
  if (u.username !== '' || u.password !== '') throw new TypeError('Request cannot be constructed from a URL that includes credentials');
  return u.href;
}

/** request.method as undici would have it; throws for the methods fetch refuses. */
export function webMethod(method: string): string {
  if (method === 'GET' || method === 'POST') return method;
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/**
 * The lazy request. Its prototype chain goes through Request.prototype, so `instanceof Request`
 * holds and Object.prototype.toString says "[object Request]"; every member it does not
 * answer itself is forwarded to the real Request (see below the class).
 */
class LazyRequest {
  readonly #req: HttpRequest;
  readonly #url: string;
  readonly #method: string;
  #headers: Headers | undefined;
  #real: Request | undefined;
  /** The body was read whole straight from the connection (text(), json(), ...). */
  #used = false;

  constructor(req: HttpRequest, url: string, method: string) {
    this.#req = req;
    this.#url = url;
    this.#method = method;
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return (this.#headers ??= this.#real !== undefined ? this.#real.headers : (new HeadersView(this.#req.headers.raw) as unknown as Headers));
  }

  /** The native request's: aborted when the client goes away (a real Request's never is, here). */
  get signal(): AbortSignal {
    return this.#req.signal;
  }

  get bodyUsed(): boolean {
    return this.#real !== undefined ? this.#real.bodyUsed : this.#used;
  }

  text(): Promise<string> {
    if (this.#real !== undefined) return this.#real.text();
    return this.#whole().then(utf8);
  }

  json(): Promise<unknown> {
    if (this.#real !== undefined) return this.#real.json();
    return this.#whole().then((b) => JSON.parse(utf8(b)) as unknown);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#real !== undefined) return this.#real.arrayBuffer();
    return this.#whole().then((b) =>
      b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : (b.slice().buffer as ArrayBuffer),
    );
  }

  bytes(): Promise<Uint8Array> {
    if (this.#real !== undefined) return (this.#real as Request & { bytes(): Promise<Uint8Array> }).bytes();
    return this.#whole();
  }

  /** The whole body, read from the connection into one array (no stream, no undici Request). */
  #whole(): Promise<Uint8Array> {
    if (!hasBody(this.#req, this.#method)) return Promise.resolve(new Uint8Array(0));
    if (this.#used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    this.#used = true;
    return this.#req.body.bytes();
  }

  /** The native request behind a lazy one (a private-field check: no map per request). */
  static native(r: unknown): HttpRequest | undefined {
    return typeof r === 'object' && r !== null && #req in r ? (r as LazyRequest).#req : undefined;
  }

  /**
   * The undici Request, made once, from the same inputs: headers as they are now (a handler may
   * have changed them), the body stream created here and nowhere else (or, once read whole,
   * a used-up one).
   */
  static real(r: LazyRequest): Request {
    if (r.#real === undefined) {
      const h = r.#headers;
      const headers = h instanceof HeadersView ? HeadersView.made(h) : h;
      r.#real = realWebRequest(r.#req, r.#url, r.#method, headers, r.#used);
    }
    return r.#real;
  }
}

/** Decodes as Body#text() does: UTF-8, a leading byte-order mark dropped. */
function utf8(b: Uint8Array): string {
  const bom = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  return Buffer.from(b.buffer, b.byteOffset + bom, b.byteLength - bom).toString('utf8');
}

/** Whether a Web Request for `req` has a body (never for GET and HEAD, as undici has it). */
function hasBody(req: HttpRequest, method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && (req.body.expectedLength !== 0 || !req.body.ended);
}

/**
 * An undici Request for a native one: the body stream is created here, and the signal is the
 * native request's. Passing req.signal in init costs a WeakRef and a FinalizationRegistry entry
 * per request (about 8 µs, 2x the Request); a getter does not, and clone() (which reads
 * this.signal) follows it too. Caveat: a copy made by undici itself does not.
 * `consumed`: the body was already read whole; the Request gets a used-up one.
 */
export function realWebRequest(req: HttpRequest, url: string, method: string, headers?: Headers, consumed = false): Request {
  const init: RequestInit & { duplex?: 'half' } = { method, headers: headers ?? req.headers.pairs() };
  if (hasBody(req, method)) {
    init.body = consumed ? new ReadableStream({ start: (c) => c.close() }) : req.body.stream();
    init.duplex = 'half';
  }
  const real = new Request(url, init);
  if (consumed && init.body !== undefined) void real.arrayBuffer().catch(() => undefined); // bodyUsed, as after a read
  Object.defineProperty(real, 'signal', { get: () => req.signal, configurable: true });
  return real;
}

Object.setPrototypeOf(LazyRequest.prototype, Request.prototype);
// request.constructor is Request, as for any Request (new request.constructor(...) makes a real one)
Object.defineProperty(LazyRequest.prototype, 'constructor', { value: Request, writable: true, configurable: true });
const lazyProto = LazyRequest.prototype as unknown as Record<PropertyKey, unknown>;

// Everything else Request.prototype has (body, bodyUsed, json(), clone(), cache, mode, ...; and
// whatever a later Node adds) is answered by the real Request.
forwardToReal(LazyRequest, Request.prototype, (r) => LazyRequest.real(r));

/**
 * `new Request(lazy)` and `fetch(lazy)`: undici sees an instance of Request and reads its
 * internal slots (symbol-keyed in Node 20 and 22). The slots are found on a real Request and
 * forwarded to the real one of the lazy request, except the signal slot, which is the native
 * signal (so a copy is aborted with the client's request). Checked once below: if undici reads
 * something else (private fields, in later versions), lazy requests are not used at all.
 */
function forwardInternalSlots(): void {
  const probe = new Request('http://localhost/');
  for (const sym of Object.getOwnPropertySymbols(probe)) {
    if (Object.prototype.hasOwnProperty.call(lazyProto, sym)) continue;
    const isSignal = (probe as unknown as Record<symbol, unknown>)[sym] === probe.signal;
    Object.defineProperty(lazyProto, sym, {
      get(this: LazyRequest) {
        return isSignal ? this.signal : (LazyRequest.real(this) as unknown as Record<symbol, unknown>)[sym];
      },
      configurable: true,
    });
  }
}

/** Whether a copy of a lazy request is a faithful copy in this Node. */
function copiesWork(): boolean {
  try {
    forwardInternalSlots();
    const ac = new AbortController();
    const stub = {
      url: '/probe?x=1',
      host: 'localhost',
      method: 'POST',
      headers: { pairs: (): [string, string][] => [['x-probe', '1']] },
      signal: ac.signal,
      body: { expectedLength: 0, ended: true, stream: () => null },
    } as unknown as HttpRequest;
    const copy = new Request(new LazyRequest(stub, 'http://localhost/probe?x=1', 'POST') as unknown as Request);
    ac.abort();
    return copy.url === 'http://localhost/probe?x=1' && copy.method === 'POST' && copy.headers.get('x-probe') === '1' && copy.signal.aborted;
  } catch {
    return false;
  }
}

/** False when this Node's undici cannot copy a lazy request: toWebRequest then builds real ones. */
export const lazyRequests = copiesWork();

/** The native request behind a Request made by lazyWebRequest(); undefined for any other Request. */
export function lazyNative(request: Request): HttpRequest | undefined {
  return LazyRequest.native(request);
}

/** A Web Request over a native one; only method, URL (both checked now) and the object itself cost anything up front. */
export function lazyWebRequest(req: HttpRequest): Request {
  return new LazyRequest(req, webUrl(req), webMethod(req.method)) as unknown as Request;
}
