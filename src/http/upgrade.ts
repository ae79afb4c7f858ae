/**
 * Which native response answers a Web Request, so `server.upgrade(request)`
 * in a fetch handler can switch that exchange to WebSocket.
 * Thread: the loop thread of the request. Owns a weak map (requests are
 * forgotten with them).
 */
import type { HttpResponse } from './response.js';

const responses = new WeakMap<Request, HttpResponse>();

export function rememberForUpgrade(request: Request, res: HttpResponse): void {
  responses.set(request, res);
}

export function responseToUpgrade(request: Request): HttpResponse {
  const res = responses.get(request);
  if (res === undefined) throw new TypeError('server.upgrade(request): pass the Request this fetch handler received');
  return res;
}
