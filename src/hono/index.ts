/**
 * Hono's WebSocket helper for edgeloop, in the shape of Hono's own Bun and
 * Deno adapters: `upgradeWebSocket(c => events)` in routes, and `websocket`
 * handed to serve() (or exported by the app module when loops > 1).
 *
 *   import { upgradeWebSocket, websocket } from 'edgeloop/hono';
 *   app.get('/ws', upgradeWebSocket(() => ({ onMessage(e, ws) { ws.send(String(e.data)); } })));
 *   await serve({ port: 8080, fetch: app.fetch, websocket });
 *
 * Thread: any loop thread; keeps no state of its own (each socket carries its
 * Hono events in ws.data). Needs `hono` (an optional peer dependency).
 */
import { WSContext, createWSMessageEvent, defineWebSocketHelper, type WSEvents } from 'hono/ws';
import type { FetchServer } from '../http/options.js';
import type { WebSocketBehavior } from '../ws/options.js';
import type { ServerWebSocket } from '../ws/websocket.js';

/** What the helper keeps on each socket. */
export interface HonoSocketData {
  events: WSEvents<ServerWebSocket<HonoSocketData>>;
  url: URL;
}

type HonoSocket = ServerWebSocket<HonoSocketData>;

function isServer(env: unknown): env is FetchServer {
  return typeof env === 'object' && env !== null && typeof (env as FetchServer).upgrade === 'function';
}

/** Route middleware: turns the request into a WebSocket driven by the events `createEvents(c)` returns. */
export const upgradeWebSocket = defineWebSocketHelper<HonoSocket>((c, events) => {
  const server: unknown = c.env;
  if (!isServer(server)) {
    throw new TypeError(
      "upgradeWebSocket: c.env is not edgeloop's server. Serve the app with edgeloop's serve({ fetch: app.fetch, websocket }) " +
        '(from edgeloop/http and edgeloop/hono), which passes the server as the fetch handler\'s second argument.',
    );
  }
  const data: HonoSocketData = { events, url: new URL(c.req.url) };
  // edgeloop sends the 101 itself and drops whatever Response follows an upgrade; Hono needs one to stop the chain.
  if (server.upgrade(c.req.raw, { data })) return new Response(null);
  // No WebSocket asked for (the route falls through to next()), or a bad handshake already answered 400/426.
  return undefined;
});

function context(ws: HonoSocket): WSContext<HonoSocket> {
  return new WSContext<HonoSocket>({
    send: (source, options) => {
      ws.send(source, { compress: options?.compress });
    },
    close: (code, reason) => ws.close(code, reason),
    raw: ws,
    readyState: ws.readyState as 0 | 1 | 2 | 3,
    url: ws.data.url,
    protocol: ws.protocol === '' ? null : ws.protocol,
  });
}

interface CloseEventLike extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** Node 20 has no global CloseEvent (Bun and Deno do, and Hono's handlers read code and reason from it). */
function closeEvent(code: number, reason: string): CloseEventLike {
  const Native = (globalThis as { CloseEvent?: new (type: string, init: object) => CloseEventLike }).CloseEvent;
  if (Native) return new Native('close', { code, reason, wasClean: code !== 1006 });
  return Object.assign(new Event('close'), { code, reason, wasClean: code !== 1006 });
}

/** Runs one Hono event handler; a throw or rejection goes to onError when the route has one, else it surfaces. */
function run(ws: HonoSocket, fn: () => unknown): void {
  const onError = ws.data.events.onError;
  const fail = (error: unknown): void => {
    if (!onError) throw error;
    const event = new Event('error') as Event & { error?: unknown };
    event.error = error;
    onError(event, context(ws));
  };
  try {
    const r = fn();
    if (r instanceof Promise) r.catch((e: unknown) => queueMicrotask(() => fail(e)));
  } catch (e) {
    fail(e);
  }
}

/** The `websocket` handlers for serve(): spread it to add options, e.g. `{ ...websocket, compression: 'shared' }`. */
export const websocket: WebSocketBehavior<HonoSocketData> = {
  open(ws) {
    const on = ws.data.events.onOpen;
    if (on) run(ws, () => on(new Event('open'), context(ws)));
  },
  message(ws, message) {
    const on = ws.data.events.onMessage;
    if (!on) return;
    // Hono's receivers expect a string for text and an ArrayBuffer for binary (as its Bun and Deno adapters give).
    const data = typeof message === 'string' ? message : message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength);
    run(ws, () => on(createWSMessageEvent(data as ArrayBuffer), context(ws)));
  },
  close(ws, code, reason) {
    const on = ws.data.events.onClose;
    if (on) run(ws, () => on(closeEvent(code, reason) as unknown as Parameters<typeof on>[0], context(ws)));
  },
};

/** Hono's older factory form: `const { upgradeWebSocket, websocket } = createEdgeloopWebSocket()`. */
export function createEdgeloopWebSocket(): { upgradeWebSocket: typeof upgradeWebSocket; websocket: typeof websocket } {
  return { upgradeWebSocket, websocket };
}
