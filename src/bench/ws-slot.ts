/**
 * One of the -c connections of a ws:// or wss:// run: opens a TCP connection, upgrades
 * it, then sends messages and counts their echoes (pipelined up to
 * --pipeline). Thread: its driver's loop. Owns at most one live TcpConnection
 * and the messages in flight on it; every one of those leaves through exactly
 * one of: an echo, failAll(kind) / a refused handshake / a close frame, or
 * the driver's final unanswered count.
 */
import type { TcpConnection, Buffer as InputBuffer } from '../reactor/index.js';
import { encodeMaskedFrame, readHeader, FIN, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, type FrameHeader } from '../ws/frame.js';
import { ConnectionSlot, type SlotDriver } from './connection-slot.js';
import type { Failure } from './stats.js';
import type { WsRequest } from './ws-request.js';

/** What a WebSocket slot reports beyond an HTTP slot's outcomes. */
export interface WsSlotHost extends SlotDriver {
  echo(intendedMs: number, now: number): void;
  refused(status: number, count: number, now: number): void;
  closedWith(code: number, count: number, now: number): void;
}

/** A handshake answer longer than this is not one (the server is speaking something else). */
const MAX_HEAD = 16 * 1024;
const CRLFCRLF = globalThis.Buffer.from('\r\n\r\n');

export class WsSlot extends ConnectionSlot {
  /** The 101 arrived: bytes are frames now. */
  private open = false;
  /** Payload bytes of the echo being collected (fragments add up). */
  private msgLen = 0;
  private inMessage = false;
  private readonly hdr: FrameHeader = { first: 0, masked: false, size: 0, length: 0 };
  private carried = 0;

  constructor(
    index: number,
    private readonly d: WsSlotHost,
    private readonly w: WsRequest,
  ) {
    super(index, d);
  }

  protected override ready(): boolean {
    return this.open; // the handshake's answer sends what is waiting
  }

  protected reset(): void {
    this.open = false;
    this.inMessage = false;
    this.msgLen = 0;
    this.carried = 0;
  }

  protected write(conn: TcpConnection, k: number): void {
    const bytes = k === 1 ? this.w.single : this.w.batch.subarray(0, k * this.w.single.length);
    this.d.bytes(0, bytes.length);
    conn.send(bytes);
  }

  protected start(c: TcpConnection): void {
    this.d.bytes(0, this.w.handshake.length);
    c.send(this.w.handshake);
  }

  protected onMessage(c: TcpConnection, buf: InputBuffer): void {
    if (c !== this.conn) {
      buf.retrieveAll();
      return;
    }
    const view = buf.peek();
    this.d.bytes(view.length - this.carried, 0);
    const now = performance.now();
    let pos = 0;
    if (!this.open) {
      pos = this.handshake(c, view, now);
      if (pos <= 0) {
        if (pos === 0) this.carried = view.length;
        else buf.retrieveAll();
        return;
      }
    }
    const used = this.frames(c, view, pos, now);
    if (used < 0) {
      buf.retrieveAll();
      return;
    }
    buf.retrieve(used);
    this.carried = buf.readableBytes;
    this.fill();
  }

  /** The server's answer to the upgrade: the offset after it, 0 while incomplete, -1 when this connection is done. */
  private handshake(c: TcpConnection, view: Uint8Array, now: number): number {
    const end = globalThis.Buffer.from(view.buffer, view.byteOffset, view.length).indexOf(CRLFCRLF);
    if (end < 0) {
      if (view.length <= MAX_HEAD) return 0;
      this.failAll('malformed', now);
      this.drop(true);
      return -1;
    }
    const head = globalThis.Buffer.from(view.buffer, view.byteOffset, end).toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) {
      this.failAll('malformed', now);
      this.drop(true);
      return -1;
    }
    const status = Number(m[1]);
    if (status !== 101) {
      const n = this.intended.length;
      this.intended.length = 0;
      this.sent.length = 0;
      this.d.refused(status, n, now);
      this.drop(true);
      return -1;
    }
    const accept = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*?)[ \t]*(?:\r\n|$)/i.exec(head);
    if (accept?.[1] !== this.w.accept) {
      this.failAll('malformed', now);
      this.drop(true);
      return -1;
    }
    this.open = true;
    if (this.intended.length > 0) this.write(c, this.intended.length);
    return end + 4;
  }

  /** Counts the echoes in view[pos..]; returns how far it consumed, or -1 when the connection is done. */
  private frames(c: TcpConnection, view: Uint8Array, pos: number, now: number): number {
    const h = this.hdr;
    while (readHeader(view, pos, view.length, h)) {
      // Server frames are never masked (RFC 6455 5.1); a length with its top bit set is no length.
      if (h.masked || h.length < 0 || (h.first & 0x70) !== 0) return this.malformed(now);
      if (view.length - pos - h.size < h.length) break; // the rest of the payload is on its way
      const p = pos + h.size;
      pos = p + h.length;
      const op = h.first & 0x0f;
      const fin = (h.first & FIN) !== 0;
      if (op === OP_TEXT || op === OP_BINARY || op === OP_CONT) {
        if ((op === OP_CONT) !== this.inMessage) return this.malformed(now);
        this.msgLen += h.length;
        this.inMessage = !fin;
        if (!fin) continue;
        const t0 = this.intended.shift();
        this.sent.shift();
        const ok = t0 !== undefined && this.msgLen === this.w.length;
        this.msgLen = 0;
        if (!ok) return this.malformed(now);
        this.d.echo(t0, now);
      } else if (op === OP_PING) {
        c.send(encodeMaskedFrame(FIN | OP_PONG, view.subarray(p, p + h.length), this.w.key));
      } else if (op === OP_CLOSE) {
        const code = h.length >= 2 ? ((view[p] ?? 0) << 8) | (view[p + 1] ?? 0) : 1005;
        const n = this.intended.length;
        this.intended.length = 0;
        this.sent.length = 0;
        this.d.closedWith(code, n, now);
        // Answer the close (echoing the code, RFC 6455 5.5.1) and let the server close the TCP connection.
        c.send(encodeMaskedFrame(FIN | OP_CLOSE, view.subarray(p, p + Math.min(h.length, 2)), this.w.key));
        this.drop(false);
        return -1;
      } else if (op !== OP_PONG) {
        return this.malformed(now);
      }
    }
    return pos;
  }

  private malformed(now: number): number {
    this.failAll('malformed', now);
    this.drop(true);
    return -1;
  }

  /** The server closed the TCP connection without a close frame: 1006 in WebSocket terms. */
  protected onPeerHalfClose(c: TcpConnection): void {
    if (c !== this.conn) {
      c.forceClose('local');
      return;
    }
    this.lostInFlight('closed', performance.now());
    this.drop(true);
  }

  protected override lostInFlight(kind: Failure, now: number): void {
    const n = this.intended.length;
    if (kind === 'closed' && this.open) {
      this.intended.length = 0;
      this.sent.length = 0;
      this.d.closedWith(1006, n, now);
    } else this.failAll(kind, now);
  }
}
