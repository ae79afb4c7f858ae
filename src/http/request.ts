/**
 * The request a native handler receives. Everything is derived lazily from
 * the parsed head, so a handler that only looks at `method` and `path` pays
 * for nothing else. Thread: the loop thread of its connection. Owns its body.
 */
import type { SockAddr } from '../native/binding.js';
import { RequestBody } from './body.js';
import { RequestHeaders } from './headers.js';
import type { RequestHead } from './parser/request-parser.js';
import type { TlsInfo } from '../reactor/tls/TlsSession.js';

/** Where a request came from, as its connection knows it. */
export interface AddressSource {
  /** The client: the socket's peer, a PROXY header's source, or what trusted proxies' headers say. */
  clientAddress(head: RequestHead): SockAddr | undefined;
  /** The address the client connected to. */
  localAddress(): SockAddr | undefined;
  /** HTTPS: the connection's TLS state. */
  tlsInfo?(): TlsInfo | null;
}

const NO_SOURCE: AddressSource = { clientAddress: () => undefined, localAddress: () => undefined };

export class HttpRequest {
  /** The method, case preserved (methods are case-sensitive). */
  readonly method: string;
  /** The request-target exactly as sent ("/a/b?x=1", or absolute-form for proxies). */
  readonly url: string;
  /** "1.1" or "1.0". */
  readonly httpVersion: string;
  private _body: RequestBody | null;
  private readonly head: RequestHead;
  private _path: string | undefined;
  private _search: string | undefined;
  private _query: URLSearchParams | undefined;
  private _headers: RequestHeaders | undefined;
  private _trailers: RequestHeaders | undefined;
  /** Made on first use of `signal`: most handlers never look. */
  private _abort: AbortController | undefined;
  private _aborted = false;
  private readonly source: AddressSource;
  private _client: SockAddr | null | undefined;

  /** `body` is null for requests without one (an empty body is made only if asked for). */
  constructor(head: RequestHead, body: RequestBody | null, source: AddressSource = NO_SOURCE) {
    this.head = head;
    this.source = source;
    this.method = head.method;
    this.url = head.target;
    this.httpVersion = head.versionMinor === 1 ? '1.1' : '1.0';
    this._body = body;
  }

  /**
   * The client's address as the server sees it: the TCP peer; behind a PROXY protocol listener,
   * the client the balancer saw; behind proxies on the `trustProxy` list, the first hop of their
   * X-Forwarded-For (or Forwarded) chain that is not itself trusted. Undefined only if the
   * connection closed before anyone asked.
   */
  get remoteAddress(): string | undefined {
    return this.client()?.address;
  }

  /** The client's port; 0 when it came from an X-Forwarded-For header, which carries none. */
  get remotePort(): number | undefined {
    return this.client()?.port;
  }

  /** 'IPv4' or 'IPv6'. */
  get remoteFamily(): string | undefined {
    return this.client()?.family;
  }

  /** The address the client connected to (behind PROXY protocol: the balancer's listener). */
  get localAddress(): string | undefined {
    return this.source.localAddress()?.address;
  }

  get localPort(): number | undefined {
    return this.source.localAddress()?.port;
  }

  /** The client as `{ address, family, port }` (Bun's requestIP shape), or null. */
  clientAddress(): SockAddr | null {
    return this.client();
  }

  private client(): SockAddr | null {
    if (this._client === undefined) this._client = this.source.clientAddress(this.head) ?? null;
    return this._client;
  }

  /**
   * HTTPS: the connection's protocol, cipher, ALPN, SNI name, resumption and
   * client certificate (mTLS: `tls.peerCertificate`, `tls.authorized`). null over plain HTTP.
   */
  get tls(): TlsInfo | null {
    return this.source.tlsInfo?.() ?? null;
  }

  /** The body: an async iterable of chunks, with bytes()/text()/json()/stream(). */
  get body(): RequestBody {
    return (this._body ??= RequestBody.empty());
  }

  /**
   * The path, not decoded ("/a%20b" stays as sent), with dot-segments removed ("/a/../b" is
   * "/b", also spelled "%2e"), as a fetch handler's URL has it.
   */
  get path(): string {
    if (this._path === undefined) this.split();
    return this._path!;
  }

  /** The raw query string without "?" ('' when absent). */
  get search(): string {
    if (this._search === undefined) this.split();
    return this._search!;
  }

  /** The query, parsed (application/x-www-form-urlencoded rules). */
  get query(): URLSearchParams {
    return (this._query ??= new URLSearchParams(this.search));
  }

  /** Case-insensitive, read-only request headers. */
  get headers(): RequestHeaders {
    return (this._headers ??= new RequestHeaders(this.head.headers));
  }

  /** Trailer fields of a chunked body, once the body has ended; empty otherwise. */
  get trailers(): RequestHeaders {
    return (this._trailers ??= new RequestHeaders(this.body.ended && this.head.trailers ? this.head.trailers : []));
  }

  /** The authority the client asked for: from an absolute-form target, else the Host header. */
  get host(): string {
    const t = this.url;
    if (t.charCodeAt(0) !== 0x2f && t !== '*') {
      const s = t.indexOf('//');
      if (s >= 0) {
        const e = t.indexOf('/', s + 2);
        const q = t.indexOf('?', s + 2);
        const end = e < 0 ? (q < 0 ? t.length : q) : q < 0 ? e : Math.min(e, q);
        return t.slice(s + 2, end);
      }
    }
    return this.head.host;
  }

  /**
   * Aborted when the exchange can no longer complete before the response ended: the client
   * went away, the request body was malformed or too slow, or the response stalled. Long
   * handlers (streams, upstream calls) use it to stop work nobody will receive.
   */
  get signal(): AbortSignal {
    if (this._abort === undefined) {
      this._abort = new AbortController();
      if (this._aborted) this._abort.abort();
    }
    return this._abort.signal;
  }

  /** True once the exchange was abandoned before its response ended (see `signal`). */
  get aborted(): boolean {
    return this._aborted;
  }

  /**
   * @internal One listener for the server's own use (the fetch adapter): an AbortController and
   * a listener per request cost about 3 µs, as much as the Web Request itself.
   */
  onAbort: (() => void) | null = null;

  /** @internal Called by the connection; listeners run now, once. */
  abort(): void {
    if (this._aborted) return;
    this._aborted = true;
    this._abort?.abort();
    const hook = this.onAbort;
    this.onAbort = null;
    hook?.();
  }

  /** Whether the connection stays open after this exchange, as the client asked. */
  get keepAlive(): boolean {
    return this.head.keepAlive;
  }

  bytes(): Promise<Uint8Array> {
    return this.body.bytes();
  }

  text(): Promise<string> {
    return this.body.text();
  }

  json(): Promise<unknown> {
    return this.body.json();
  }

  private split(): void {
    let t = this.head.resolved ?? this.url;
    if (t.charCodeAt(0) !== 0x2f) {
      // absolute-form: the path starts after the authority; authority-form and '*' have none.
      const s = t.indexOf('//');
      const p = s >= 0 ? t.indexOf('/', s + 2) : -1;
      const q0 = s >= 0 ? t.indexOf('?', s + 2) : -1;
      if (p >= 0 && (q0 < 0 || p < q0)) t = t.slice(p);
      else if (q0 >= 0) t = `/${t.slice(q0)}`;
      else t = s >= 0 ? '/' : t;
    }
    const q = t.indexOf('?');
    if (q < 0) {
      this._path = t;
      this._search = '';
    } else {
      this._path = t.slice(0, q);
      this._search = t.slice(q + 1);
    }
  }
}
