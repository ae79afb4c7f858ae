/**
 * One of the -c connections: a request/response state machine that keeps a
 * TCP connection open (or opens one per request with --close) and sends the
 * driver's requests over it. Thread: its driver's loop. Owns at most one live
 * TcpConnection at a time and the requests in flight on it; every one of those
 * requests leaves through exactly one of: a response, failAll(kind), or the
 * driver's final unanswered count.
 */
import type { TcpConnection, Buffer } from '../reactor/index.js';
import { ConnectionSlot, type SlotDriver } from './connection-slot.js';
import { MalformedResponse, ResponseParser } from './parser.js';

/** What an HTTP slot needs from its driver beyond any slot's. */
export interface SlotHost extends SlotDriver {
  readonly closeEach: boolean;
  readonly single: Uint8Array;
  readonly batch: Uint8Array;
  readonly head: boolean;
  response(status: number, intendedMs: number, now: number): void;
}

export class Slot extends ConnectionSlot {
  private readonly parser: ResponseParser;
  /** Bytes left unconsumed in the connection's input last time (not new when presented again). */
  private carried = 0;
  /** A response said Connection: close (or --close): stop using this connection after parsing. */
  private closeAfter = false;
  /** A response arrived with no request in flight: the byte stream cannot be trusted. */
  private unexpected = false;
  private now = 0;

  constructor(
    index: number,
    private readonly d: SlotHost,
  ) {
    super(index, d);
    this.parser = new ResponseParser((status, keepAlive) => this.onResponse(status, keepAlive), d.head);
  }

  protected reset(): void {
    this.parser.reset();
    this.carried = 0;
    this.closeAfter = false;
    this.unexpected = false;
  }

  protected write(conn: TcpConnection, k: number): void {
    const d = this.d;
    const bytes = k === 1 ? d.single : d.batch.subarray(0, k * d.single.length);
    d.bytes(0, bytes.length);
    conn.send(bytes);
  }

  protected start(c: TcpConnection): void {
    if (this.intended.length > 0) this.write(c, this.intended.length);
    this.fill();
  }

  protected onMessage(c: TcpConnection, buf: Buffer): void {
    if (c !== this.conn) {
      buf.retrieveAll();
      return;
    }
    const view = buf.peek();
    this.d.bytes(view.length - this.carried, 0);
    this.now = performance.now();
    let used: number;
    try {
      used = this.parser.execute(view);
    } catch (err) {
      if (!(err instanceof MalformedResponse)) throw err;
      buf.retrieveAll();
      this.failAll('malformed', this.now);
      this.drop(true);
      return;
    }
    buf.retrieve(used);
    this.carried = buf.readableBytes;
    if (this.unexpected) {
      this.failAll('malformed', this.now);
      this.drop(true);
    } else if (this.closeAfter) {
      // The server will not read more requests on this connection: whatever is still in flight was lost.
      this.failAll('closed', this.now);
      this.drop(false);
    } else {
      this.fill();
    }
  }

  private onResponse(status: number, keepAlive: boolean): boolean {
    const t0 = this.intended.shift();
    this.sent.shift();
    if (t0 === undefined) {
      this.unexpected = true;
      return false;
    }
    this.d.response(status, t0, this.now);
    if (!keepAlive || this.d.closeEach) {
      this.closeAfter = true;
      return false;
    }
    return true;
  }

  protected onPeerHalfClose(c: TcpConnection): void {
    if (c !== this.conn) {
      c.forceClose('local');
      return;
    }
    this.now = performance.now();
    // A body delimited by the close is complete now; anything else in flight was cut off.
    this.parser.eof();
    this.failAll('closed', this.now);
    this.drop(true);
  }
}
