/**
 * The Web-standard API on top of the native one: a `fetch(Request) =>
 * Response` handler (Bun.serve, Deno.serve, Hono's app.fetch) becomes a native
 * Handler. Request bodies stream in through a ReadableStream; response bodies
 * stream out with backpressure (a body complete at once is sent with
 * Content-Length, anything else chunked, as it is produced).
 * Thread: the loop thread of the request. Owns nothing.
 */
import type { FetchHandler, Handler, HandlerContext } from './options.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';
import { FORBIDDEN_METHODS, lazyRequests, lazyWebRequest, realWebRequest, webMethod, webUrl } from './web-request.js';

export function fromFetch(fetchFn: FetchHandler): Handler {
  if (typeof fetchFn !== 'function') throw new TypeError('fetch handler must be a function (request) => Response');
  return (req: HttpRequest, res: HttpResponse, ctx: HandlerContext): void | Promise<void> => {
    if (FORBIDDEN_METHODS.has(req.method)) {
      res.status(501).setHeader('Content-Type', 'text/plain').end(`${req.method} is not supported by fetch handlers\n`);
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
    const out = fetchFn(request, ctx);
    if (out instanceof Response) return sendWebResponse(out, res, req);
    return Promise.resolve(out).then((r) => sendWebResponse(r, res, req));
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

/** What a read looked like when it was not ready by the end of the current turn. */
const NOT_YET = Symbol('not yet');
type Chunk = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

/**
 * The read's result if the stream has it now (settled before this turn's I/O is done), else
 * NOT_YET. A body given whole (string, bytes, JSON) settles in microtasks; a live stream
 * (events, a proxied upload) does not, and must not hold back what is ready.
 */
function readNow(p: Promise<Chunk>): Promise<Chunk | typeof NOT_YET> {
  let immediate: NodeJS.Immediate | undefined;
  return Promise.race([
    p,
    new Promise<typeof NOT_YET>((resolve) => {
      immediate = setImmediate(resolve, NOT_YET);
    }),
  ]).finally(() => clearImmediate(immediate));
}

/**
 * Writes a Web Response through a native response, streaming its body with backpressure.
 * A body that is complete at once goes out with Content-Length; anything else is chunked and
 * sent as it is produced (the head at once, each chunk when it comes). A HEAD response never
 * pulls more than what is ready: an endless stream would otherwise be read forever.
 * `req` (the request answered): when its exchange is abandoned, the body is cancelled.
 */
export async function sendWebResponse(response: Response, res: HttpResponse, req?: HttpRequest): Promise<void> {
  if (!(response instanceof Response)) {
    throw new TypeError(`fetch handler must return a Response, got ${response === null ? 'null' : typeof response}`);
  }
  res.status(response.status);
  const headers = response.headers;
  for (const [name, value] of headers) {
    if (name !== 'set-cookie') res.appendHeader(name, value);
  }
  for (const cookie of headers.getSetCookie()) res.appendHeader('set-cookie', cookie);
  const body = response.body;
  if (body === null) {
    res.end();
    return;
  }
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  const cancel = (reason?: unknown): void => void reader.cancel(reason).catch(() => undefined);
  if (req?.aborted) {
    cancel();
    return;
  }
  // A pending read() settles (done) when the exchange is abandoned: nobody waits on a quiet stream.
  if (req) req.onAbort = cancel;
  try {
    let next = reader.read();
    const first = await readNow(next);
    if (first !== NOT_YET) {
      if (first.done) {
        res.end();
        return;
      }
      next = reader.read();
      const second = await readNow(next);
      if (second !== NOT_YET && second.done) {
        res.end(first.value); // complete at once: Content-Length
        return;
      }
      if (res.isHead) return endHead(res, cancel);
      if (!res.write(first.value)) await res.drain();
    } else if (res.isHead) {
      return endHead(res, cancel);
    } else {
      res.flushHeaders(); // the client learns the status now; the body follows when it comes
    }
    let chunk = await next;
    while (!chunk.done) {
      if (!res.write(chunk.value)) await res.drain();
      chunk = await reader.read();
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
