/**
 * edgeloop/http: an HTTP/1.1 server on the epoll reactor.
 *   serve({ port, handler(req, res) {...} })      native API
 *   serve({ port, fetch(request) { return new Response('hi') } })   Web API (Hono: fetch: app.fetch)
 *   serve({ port, loops: 4, module: new URL('./app.js', import.meta.url) })   one loop per thread
 */
export { serve, type ServeOptions, type HttpServer } from './server.js';
export type { Handler, FetchHandler, FetchServer, HandlerContext, HttpOptions, AppModule } from './options.js';
export { HttpRequest } from './request.js';
export { HttpResponse, type BodyChunk } from './response.js';
export { RequestHeaders } from './headers.js';
export { RequestBody } from './body.js';
export { fromFetch, toWebRequest, sendWebResponse } from './fetch.js';
export { FastResponse, installFastResponse } from './web-response.js';
export { HttpError } from './parser/errors.js';
export { defaultLimits, type ParserLimits } from './parser/limits.js';
export { STATUS_TEXT } from './status.js';
export { buildRegistry, metricsText, METRICS_CONTENT_TYPE } from './metrics.js';
export { requestIP } from './fetch.js';
export { TrustProxy, type ProxyHeader } from './trust-proxy.js';
export type { AccessLogOptions, AccessLogFormat } from './access-log.js';
