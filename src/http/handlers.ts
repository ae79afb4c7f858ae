/**
 * Plugs HTTP into the reactor: the ServerHandlers of one loop, each
 * TcpConnection carrying the protocol it speaks in `conn.context` (an
 * HttpConnection, or a ServerWebSocket after an upgrade).
 * Thread: the loop thread that calls it. Owns the loop's HttpLoop (and WsLoop).
 */
import type { Buffer as ReactorBuffer } from '../reactor/Buffer.js';
import type { ServerContext, ServerHandlers } from '../reactor/ServerLoop.js';
import type { TcpConnection } from '../reactor/TcpConnection.js';
import { WsLoop } from '../ws/loop.js';
import type { WebSocketBehavior } from '../ws/options.js';
import { Bus, type BusHandles } from '../ws/pubsub.js';
import { HttpConnection } from './connection.js';
import { requestIP } from './fetch.js';
import { withMetrics } from './metrics.js';
import { HttpLoop } from './loop.js';
import type { Handler, HandlerContext, ResolvedHttpOptions } from './options.js';
import { responseToUpgrade } from './upgrade.js';
import { withHealthRoute } from './health.js';

/** What a connection's protocol layer handles (HTTP/1.1, then maybe WebSocket). */
export interface ConnectionProtocol {
  onMessage(buf: ReactorBuffer): void;
  onPeerHalfClose(): void;
  onDrain(): void;
  onClose(): void;
  onStop(): void;
}

export function httpHandlers(
  ctx: ServerContext,
  app: Handler,
  options: ResolvedHttpOptions,
  websocket?: WebSocketBehavior,
  bus?: BusHandles,
): ServerHandlers & { ws: WsLoop | null } {
  let wsl: WsLoop | null = null;
  const state = ctx.state;
  const hctx = handlerContext({ loop: ctx.index, loops: ctx.loops, stats: ctx.stats, health: () => state.health() }, websocket !== undefined, () => wsl);
  const metered = options.metricsPath !== undefined ? withMetrics(options.metricsPath, app) : app;
  const served = options.healthPath ? withHealthRoute(metered, options.healthPath) : metered;
  const hl = new HttpLoop(ctx.loop, options, served, hctx, state);
  if (websocket !== undefined) {
    wsl = new WsLoop(ctx.loop, hl.output, websocket, (err) => hl.reportError(err), bus ? new Bus(bus, ctx.index) : null);
    hl.ws = wsl;
  }
  const of = (conn: TcpConnection): ConnectionProtocol => conn.context as ConnectionProtocol;
  return {
    ws: wsl,
    onConnection(conn) {
      conn.context = new HttpConnection(hl, conn);
    },
    onMessage(conn, buf) {
      of(conn).onMessage(buf);
    },
    onPeerHalfClose(conn) {
      of(conn).onPeerHalfClose();
    },
    onDrain(conn) {
      of(conn).onDrain();
    },
    onClose(conn) {
      const p = conn.context as ConnectionProtocol | undefined;
      if (p) p.onClose();
      conn.context = undefined;
    },
    onStopped() {
      hl.close();
    },
    onStop(conn) {
      hl.beginStop();
      const p = conn.context as ConnectionProtocol | undefined;
      if (p) p.onStop();
      else conn.close();
    },
  };
}

/** The context handlers get (the `server` of a fetch handler): where they run, and the WebSocket calls. */
export function handlerContext(
  base: Pick<HandlerContext, 'loop' | 'loops' | 'stats' | 'health'>,
  websocket = false,
  ws: () => WsLoop | null = () => null,
): HandlerContext {
  const need = (what: string): WsLoop => {
    const w = ws();
    if (w === null) throw new Error(`${what}: this server has no WebSocket handlers (websocket)`);
    return w;
  };
  return {
    ...base,
    websocket,
    requestIP,
    upgrade(request, opts) {
      return responseToUpgrade(request).upgrade(opts?.data, opts?.headers);
    },
    publish(topic, data, opts) {
      return need('publish()').publish(topic, data, opts?.binary ?? typeof data !== 'string', null);
    },
    subscriberCount(topic) {
      const w = ws();
      return w === null ? 0 : w.subscriberCount(topic);
    },
  };
}
