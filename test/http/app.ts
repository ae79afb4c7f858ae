/**
 * The app the HTTP integration tests talk to (native API). A module, so the
 * multi-loop tests can load it in every loop thread too.
 */
import type { HandlerContext } from '../../src/http/options.js';
import type { HttpRequest } from '../../src/http/request.js';
import type { HttpResponse } from '../../src/http/response.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function handler(req: HttpRequest, res: HttpResponse, ctx: HandlerContext): Promise<void> {
  const path = req.path;
  if (path === '/hello') {
    res.setHeader('Content-Type', 'text/plain');
    res.end('hello');
  } else if (path === '/echo') {
    const body = await req.bytes();
    res.setHeader('Content-Type', req.headers.get('content-type') ?? 'application/octet-stream');
    res.end(body);
  } else if (path === '/info') {
    const body = await req.bytes();
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        path: req.path,
        search: req.search,
        query: Object.fromEntries(req.query),
        host: req.host,
        version: req.httpVersion,
        headers: Object.fromEntries(req.headers),
        record: { ...req.headers.toObject() },
        protoClean: Object.getPrototypeOf(req.headers.toObject()) === null,
        bodyLength: body.length,
        trailers: Object.fromEntries(req.trailers),
        loop: ctx.loop,
      }),
    );
  } else if (path === '/throw') {
    res.setHeader('X-Before-Throw', '1');
    throw new Error('handler exploded (expected by the test)');
  } else if (path === '/reject') {
    await sleep(1);
    throw new Error('async handler rejected (expected by the test)');
  } else if (path === '/throw-after-head') {
    res.write('partial');
    await sleep(1);
    throw new Error('failed mid-body (expected by the test)');
  } else if (path === '/async') {
    await sleep(Number(req.query.get('ms') ?? 5));
    res.end(`async ${req.query.get('id') ?? ''}`);
  } else if (path === '/stream') {
    res.setHeader('Content-Type', 'text/plain');
    for (const part of ['one ', 'two ', 'three']) {
      res.write(part);
      await sleep(1);
    }
    res.end();
  } else if (path.startsWith('/status/')) {
    res.status(Number(path.slice(8)));
    res.end('this body must not be sent for 204/304');
  } else if (path === '/length') {
    res.setHeader('Content-Length', '3');
    res.write('a');
    res.end('bc');
  } else if (path === '/stream-body') {
    // Reads the body as it arrives and reports the chunk count and total.
    let n = 0;
    let total = 0;
    for await (const c of req.body) {
      n++;
      total += c.length;
    }
    res.end(JSON.stringify({ chunks: n, total }));
  } else if (path === '/ignore-body') {
    res.end('ignored');
  } else if (path === '/headers') {
    res.setHeader('X-Multi', ['a', 'b']);
    res.appendHeader('Set-Cookie', 'a=1');
    res.appendHeader('Set-Cookie', 'b=2');
    res.setHeader('Date', 'Thu, 01 Jan 1970 00:00:00 GMT');
    res.end('ok');
  } else if (path === '/bad-header') {
    try {
      res.setHeader('X-Evil', 'a\r\nInjected: yes');
      res.end('not reached');
    } catch (err) {
      res.status(500).end(`rejected: ${(err as Error).message}`);
    }
  } else if (path === '/close') {
    res.setHeader('Connection', 'close');
    res.end('bye');
  } else {
    res.status(404).end('not found');
  }
}
