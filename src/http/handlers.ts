/**
 * Plugs HTTP into the reactor: the ServerHandlers of one loop, each
 * TcpConnection carrying its HttpConnection in `conn.context`.
 * Thread: the loop thread that calls it. Owns the loop's HttpLoop.
 */
import type { ServerContext, ServerHandlers } from '../reactor/ServerLoop.js';
import type { TcpConnection } from '../reactor/TcpConnection.js';
import { HttpConnection } from './connection.js';
import { HttpLoop } from './loop.js';
import type { Handler, ResolvedHttpOptions } from './options.js';

export function httpHandlers(ctx: ServerContext, app: Handler, options: ResolvedHttpOptions): ServerHandlers {
  const hl = new HttpLoop(ctx.loop, options, app, { loop: ctx.index, loops: ctx.loops, stats: ctx.stats });
  const of = (conn: TcpConnection): HttpConnection => conn.context as HttpConnection;
  return {
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
      const hc = conn.context as HttpConnection | undefined;
      if (hc) hc.onClose();
      conn.context = undefined;
    },
    onStop(conn) {
      hl.stopping = true;
      const hc = conn.context as HttpConnection | undefined;
      if (hc) hc.onStop();
      else conn.close();
    },
  };
}
