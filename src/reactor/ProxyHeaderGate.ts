/**
 * Holds a newly accepted connection until its PROXY protocol header has been
 * read: no byte reaches the protocol layer, and the server's handlers do not
 * hear of the connection (no onConnection), before a complete, valid header.
 * Then the connection carries the addresses it gave and is handed to the
 * server's handlers with whatever followed the header. A connection whose
 * header is invalid, missing (other bytes first), or not complete within the
 * timeout is closed without being served.
 * Thread: its connection's loop. Owns the header timer.
 */
import type { Buffer } from './Buffer.js';
import { S } from './LoopStats.js';
import { parseProxyHeader } from './ProxyProtocol.js';
import type { ConnectionHandlers, TcpConnection } from './TcpConnection.js';
import type { Timer } from './TimerQueue.js';

export class ProxyHeaderGate {
  private timer: Timer | undefined;
  /** The handlers the connection has while it waits for its header. */
  readonly handlers: ConnectionHandlers;

  constructor(
    private readonly conn: TcpConnection,
    timeoutMs: number,
    /** The server's handlers, the connection's once the header is read. */
    private readonly next: ConnectionHandlers,
    /** The connection closed before it passed (the server forgets it; its handlers never knew it). */
    private readonly onClosedAtGate: (conn: TcpConnection) => void,
  ) {
    conn.loop.assertInLoopThread();
    this.timer = conn.loop.runAfter(timeoutMs, () => {
      this.timer = undefined;
      this.reject('timeout');
    });
    this.handlers = {
      onMessage: (_c, buf) => this.onMessage(buf),
      // A FIN before the header is complete: nothing can complete it now.
      onPeerHalfClose: () => this.reject('peer'),
      onClose: (c) => {
        this.cancelTimer();
        this.onClosedAtGate(c);
      },
    };
  }

  private onMessage(buf: Buffer): void {
    const r = parseProxyHeader(buf.data, buf.r, buf.w);
    if (r === null) return; // incomplete: the connection keeps the bytes for the next read
    if (!r.ok) {
      buf.retrieveAll();
      this.reject('error');
      return;
    }
    buf.retrieve(r.length);
    this.cancelTimer();
    const conn = this.conn;
    if (r.command === 'proxy') conn.setProxiedAddresses(r.remote, r.local);
    conn.setHandlers(this.next);
    // Called from within the connection's onMessage: a throw here closes it like any handler's.
    this.next.onConnection?.(conn);
    if (!conn.isClosed && buf.readableBytes > 0) this.next.onMessage?.(conn, buf);
  }

  private reject(reason: 'timeout' | 'error' | 'peer'): void {
    if (this.conn.isClosed) return;
    this.conn.loop.stats.c[S.proxyRejected]!++;
    this.conn.forceClose(reason);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
