/**
 * The Web-standard API on top of the native one: a `fetch(Request) =>
 * Response` handler (Bun.serve, Deno.serve, Hono's app.fetch) becomes a native
 * Handler. Request bodies stream in through a ReadableStream; response bodies
 * stream out with backpressure (a body of one chunk is sent with
 * Content-Length, anything longer chunked).
 * Thread: the loop thread of the request. Owns nothing.
 */
import type { FetchHandler, Handler, HandlerContext } from './options.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';

/** Methods the Fetch standard refuses to put in a Request. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

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
    if (out instanceof Response) return sendWebResponse(out, res);
    return Promise.resolve(out).then((r) => sendWebResponse(r, res));
  };
}

/** A Web Request for a native request. The body (if any) streams from the connection. */
export function toWebRequest(req: HttpRequest): Request {
  const target = req.url;
  const url = target.charCodeAt(0) === 0x2f ? `http://${req.host || 'localhost'}${target}` : target === '*' ? `http://${req.host || 'localhost'}/` : target;
  const method = req.method;
  const init: RequestInit & { duplex?: 'half' } = { method, headers: req.headers.pairs() };
  if (method !== 'GET' && method !== 'HEAD' && (req.body.expectedLength !== 0 || !req.body.ended)) {
    init.body = req.body.stream();
    init.duplex = 'half';
  }
  return new Request(url, init);
}

/** Writes a Web Response through a native response, streaming its body with backpressure. */
export async function sendWebResponse(response: Response, res: HttpResponse): Promise<void> {
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
  try {
    const first = await reader.read();
    if (first.done) {
      res.end();
      return;
    }
    const second = await reader.read();
    if (second.done) {
      res.end(first.value);
      return;
    }
    if (!res.write(first.value as Uint8Array)) await res.drain();
    let chunk: { done: boolean; value?: Uint8Array } = second;
    while (!chunk.done) {
      if (!res.write(chunk.value!)) await res.drain();
      chunk = await reader.read();
    }
    res.end();
  } catch (err) {
    void reader.cancel(err).catch(() => undefined);
    throw err;
  }
}
