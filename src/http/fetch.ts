/**
 * The Web-standard API on top of the native one: a `fetch(Request, server) =>
 * Response` handler (Bun.serve, Deno.serve, Hono's app.fetch) becomes a native
 * Handler. A fast Response (web-response.ts: a string, bytes or nothing) is
 * written straight out with Content-Length, in the turn it is returned: a
 * handler that answers synchronously is answered in the same batch as a native
 * one. Other bodies stream out as they are produced, with backpressure
 * (chunked unless their headers declare Content-Length). Request bodies
 * stream in from the connection.
 * Thread: the loop thread of the request. Owns nothing.
 */
import type { SockAddr } from '../native/binding.js';
import type { FetchHandler, Handler, HandlerContext } from './options.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';
import { FastResponse, RealResponse } from './web-response.js';
import { FORBIDDEN_METHODS, lazyNative, lazyRequests, lazyWebRequest, realWebRequest, webMethod, webUrl } from './web-request.js';
import { rememberForUpgrade } from './upgrade.js';

/**
 * The native request behind each real Web Request a fetch handler was given, for requestIP().
 * A lazy Request carries its own: a WeakMap entry per request costs more than the rest of the
 * request side (ephemeron tables the scavenger must walk).
 */
const nativeOf = new WeakMap<Request, HttpRequest>();

/**
 * Bun's `server.requestIP(request)`: the client of a Request this server gave a fetch handler,
 * as `{ address, family, port }` (see HttpRequest.remoteAddress), or null for any other Request.
 */
export function requestIP(request: Request): SockAddr | null {
  return (lazyNative(request) ?? nativeOf.get(request))?.clientAddress() ?? null;
}

export function fromFetch(fetchFn: FetchHandler): Handler {
  if (typeof fetchFn !== 'function') throw new TypeError('fetch handler must be a function (request) => Response');
  return (req: HttpRequest, res: HttpResponse, ctx: HandlerContext): void | Promise<void> => {
    const method = req.method;
    if (method !== 'GET' && method !== 'POST' && FORBIDDEN_METHODS.has(method)) {
      res.status(501).setHeader('Content-Type', 'text/plain').end(`${method} is not supported by fetch handlers\n`);
      return;
    }
    let request: Request;
    try {
      request = toWebRequest(req);
    } catch {
      // e.g. a Host the URL parser refuses: the request is malformed as far as fetch is concerned
      res.status(400).setHeader('Content-Type', 'text/plain').end('400 Bad Request\n');
      return;
    }
    if (ctx.websocket) rememberForUpgrade(request, res);
    if (!lazyRequests) nativeOf.set(request, req);
    const out: unknown = fetchFn(request, ctx);
    if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(out).then((r) => (res.finished ? discard(r) : respond(r, res, req)));
    }
    if (res.finished) return discard(out); // server.upgrade() answered: 101, or 400/426
    return respond(out, res, req);
  };
}

/**
 * A Web Request for a native request. The body (if any) streams from the connection. Where
 * undici allows it (see web-request.ts), a lazy one: a real Request only once something beyond
 * method, URL, headers and signal is used.
 */
export function toWebRequest(req: HttpRequest): Request {
  if (lazyRequests) return lazyWebRequest(req);
  return realWebRequest(req, webUrl(req), webMethod(req.method));
}

/**
 * Writes a Web Response through a native response: a fast one at once, anything else streamed
 * with backpressure (see respond()). `req` (the request answered): when its exchange is
 * abandoned, a streamed body is cancelled.
 */
export async function sendWebResponse(response: Response, res: HttpResponse, req?: HttpRequest): Promise<void> {
  return respond(response, res, req);
}

/** Synchronous (undefined) for a fast Response; a promise while a body streams. */
function respond(response: unknown, res: HttpResponse, req: HttpRequest | undefined): void | Promise<void> {
  const fast = FastResponse.parts(response);
  if (fast === null) return streamWebResponse(response, res, req);
  res.status(fast.status);
  if (fast.headers !== null) {
    copyHeaders(fast.headers, res);
  } else {
    const f = fast.fields;
    for (let i = 0; i < f.length; i += 2) res.appendHeader(f[i]!, f[i + 1]!);
  }
  const body = fast.body;
  if (body === null) res.end();
  else res.end(body);
}

/** Every field of a Headers, Set-Cookie fields kept apart. */
function copyHeaders(headers: Headers, res: HttpResponse): void {
  for (const [name, value] of headers) {
    if (name !== 'set-cookie') res.appendHeader(name, value);
  }
  for (const cookie of headers.getSetCookie()) res.appendHeader('set-cookie', cookie);
}

/** A Response returned for a request that upgrade() already answered: its body is not read. */
function discard(r: unknown): void {
  if (r instanceof RealResponse && r.body !== null) void r.body.cancel().catch(() => undefined);
}

/**
 * An undici Response (a stream body, a proxied fetch() result, one built before the fast class
 * was installed), streamed with backpressure: the head at once (a stream may have nothing to
 * say for a while, and the client should learn the status now), then each chunk as it comes,
 * chunked unless the headers declare Content-Length. A plain reader loop: a chunk ready in this
 * turn joins the head in the same send (the output flushes at the end of the turn), and a write
 * that reaches the connection's high-water mark waits for the drain before the next read. A
 * HEAD response never reads the body: an endless stream would otherwise be read forever.
 */
async function streamWebResponse(response: unknown, res: HttpResponse, req: HttpRequest | undefined): Promise<void> {
  if (!(response instanceof RealResponse)) {
    throw new TypeError(`fetch handler must return a Response, got ${response === null ? 'null' : typeof response}`);
  }
  if (response.type === 'error') throw new TypeError('fetch handler returned Response.error(): a network error, answered with 500');
  res.status(response.status);
  copyHeaders(response.headers, res);
  const body = response.body;
  if (body === null) {
    res.end();
    return;
  }
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  const cancel = (reason?: unknown): void => void reader.cancel(reason).catch(() => undefined);
  if (res.isHead) return endHead(res, cancel);
  if (req?.aborted) {
    cancel();
    return;
  }
  // A pending read() settles (done) when the exchange is abandoned: nobody waits on a quiet stream.
  if (req) req.onAbort = cancel;
  try {
    res.flushHeaders();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      if (!res.write(chunk.value)) await res.drain();
    }
    res.end();
  } catch (err) {
    cancel(err);
    throw err;
  } finally {
    if (req && req.onAbort === cancel) req.onAbort = null;
  }
}

/** HEAD: the head GET would have sent (its length unknown), and the body is not read. */
function endHead(res: HttpResponse, cancel: () => void): void {
  cancel();
  res.flushHeaders();
  res.end();
}
