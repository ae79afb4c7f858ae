/**
 * Resolving an app module's exports into a native Handler. Thread: any loop
 * thread. Owns nothing.
 *
 * Accepted shapes, checked in this order:
 *   export function handler(req, res, ctx)          native API
 *   export function fetch(request, ctx)             Web API
 *   export default { fetch }   (a Hono app, Bun)    Web API
 *   export default function (req, res, ctx)          native API
 */
import { fromFetch } from './fetch.js';
import type { AppModule, FetchHandler, Handler } from './options.js';
import type { WebSocketBehavior } from '../ws/options.js';

export function handlerFromModule(mod: AppModule, where: string): Handler {
  if (typeof mod.handler === 'function') return mod.handler;
  if (typeof mod.fetch === 'function') return fromFetch(mod.fetch);
  const d = mod.default as unknown;
  if (d !== null && typeof d === 'object' && typeof (d as { fetch?: unknown }).fetch === 'function') {
    const app = d as { fetch: FetchHandler };
    return fromFetch((request, ctx) => app.fetch(request, ctx));
  }
  if (typeof d === 'function') return d as Handler;
  throw new TypeError(
    `${where}: export a native handler (export function handler(req, res) {...}), ` +
      'a fetch handler (export function fetch(request) {...}), or an app with a fetch method (export default app)',
  );
}

/** The module's WebSocket handlers: `export const websocket = {...}`, or `websocket` beside `fetch` on the default export (Bun). */
export function websocketFromModule(mod: AppModule): WebSocketBehavior | undefined {
  if (mod.websocket !== undefined) return mod.websocket;
  const d = mod.default as unknown;
  if (d !== null && typeof d === 'object' && (d as { websocket?: unknown }).websocket !== undefined) {
    return (d as { websocket: WebSocketBehavior }).websocket;
  }
  return undefined;
}
