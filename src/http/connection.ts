/**
 * The HTTP/1.1 state machine of one TCP connection: bytes in, requests to
 * the handler one at a time (pipelined requests wait their turn, so responses
 * leave in order), responses out through the loop's Output, timeouts by
 * deadline (checked by the loop's sweeper).
 *
 * Input normally stays in the reactor's buffer: a partial line is left
 * unconsumed and completed by the next read. Only when the connection must
 * stop mid-buffer (a response still in flight, a full body queue, a client not
 * reading) are the remaining bytes copied into `pending`, and reading pauses
 * when that grows: memory per connection stays bounded.
 *
 * Thread: the loop thread of its TcpConnection. Owns the parser, the current
 * request/response pair, the pending input and the connection's deadlines.
 */
import type { SockAddr } from '../native/binding.js';
import type { Buffer as ReactorBuffer } from '../reactor/Buffer.js';
import { S } from '../reactor/LoopStats.js';
import type { TcpConnection } from '../reactor/TcpConnection.js';
import type { TlsInfo } from '../reactor/tls/TlsSession.js';
import { RequestBody, type BodySource } from './body.js';
import type { HttpLoop } from './loop.js';
import type { Output } from './output.js';
import { HttpError, httpError } from './parser/errors.js';
import { EV_BODY, EV_HEAD, EV_HEAD_ONLY, EV_NEED_MORE, type RequestParser, type RequestHead } from './parser/request-parser.js';
import { HttpRequest, type AddressSource } from './request.js';
import { HttpResponse, type ResponseSink } from './response.js';
import { dateLine } from './date.js';
import { STATUS_TEXT, statusLine } from './status.js';
import { checkHandshake, switchingProtocols } from '../ws/handshake.js';
import type { ServerWebSocket } from '../ws/websocket.js';

/** Pending input above this, while blocked, pauses reading. */
const PENDING_PAUSE_BYTES = 64 * 1024;

const T_NONE = 0;
const T_IDLE = 1;
const T_HEAD = 2;
const T_BODY = 3;
const T_REQUEST = 4;

type DrainWaiter = { resolve: () => void; reject: (e: unknown) => void };

export class HttpConnection implements BodySource, ResponseSink, AddressSource {
  readonly output: Output;
  /** Taken from the loop's pool while a request is on the wire; idle connections hold none. */
  private parser: RequestParser | null = null;
  private head: RequestHead | null = null;
  private req: HttpRequest | null = null;
  private res: HttpResponse | null = null;
  /** The body receiving bytes, or null (no body, or the rest is discarded). */
  private body: RequestBody | null = null;
  /** The parser finished the current request (head, body, trailers). */
  private messageDone = true;
  private responded = false;
  private keepAliveAfter = true;
  private continueSent = false;
  /** Input bytes that followed the current request's head when it was parsed. */
  private bytesAfterHead = 0;
  private pending: Uint8Array | null = null;
  private pendStart = 0;
  private pendEnd = 0;
  private processing = false;
  /** No more requests on this connection: an error was answered, or the exchange said close. */
  private closing = false;
  private peerClosed = false;
  private outputBlocked = false;
  private drainWaiters: DrainWaiter[] | null = null;
  private served = 0;
  /** Loop time (ms) at which the current timeout fires; 0 = none. Read by the sweeper. */
  deadline = 0;
  private timeoutKind = T_NONE;
  /**
   * Loop time at which the current exchange began (0: none): accept for the first request, so
   * a connection idle before trickling a head is timed from its start; the first byte for later
   * ones. headersTimeout and requestTimeout count from here.
   */
  private requestStart: number;
  private lastBodyAt = 0;
  /** Queued output at the last sweep, and when it last changed: a send that stalls is cut. */
  private sendMark = -1;
  private sendSince = 0;
  /** Set by a successful upgrade made while input is parsed: the hand-over waits for the batch end. */
  private upgrading: ServerWebSocket | null = null;
  /** Loop time (ms) the current request's head was parsed: its duration runs from here. */
  private reqStart = 0;

  constructor(
    private readonly hl: HttpLoop,
    readonly conn: TcpConnection,
  ) {
    this.output = hl.output;
    // A turn's responses leave in one crossing at its end (SendBatch); the WebSocket a handover makes turns it off.
    conn.gatherWrites = true;
    conn.gatherReads = true;
    conn.highWaterMark = hl.options.writeHighWaterMark;
    conn.lowWaterMark = hl.options.writeHighWaterMark >> 2;
    hl.add(this);
    this.requestStart = hl.loop.now();
    this.updateTimer();
  }

  // ---- reactor events -----------------------------------------------------

  onMessage(buf: ReactorBuffer): void {
    if (this.closing) {
      buf.retrieveAll();
      return;
    }
    if (this.pending !== null) {
      this.appendPending(buf.peek());
      buf.retrieveAll();
      this.drive();
      return;
    }
    // The buffer's own array and indices: no view to make per read.
    const data = buf.data;
    const start = buf.r;
    const end = buf.w;
    const out = this.output;
    out.batching++;
    let pos: number;
    try {
      pos = this.parse(data, start, end);
    } finally {
      out.batching--;
    }
    if (pos >= end || this.closing) {
      buf.retrieveAll();
    } else if (this.blocked()) {
      this.appendPending(data.subarray(pos, end));
      buf.retrieveAll();
    } else {
      buf.retrieve(pos - start); // a partial line: the reactor keeps it for the next read
    }
    this.afterBatch();
  }

  onPeerHalfClose(): void {
    this.peerClosed = true;
    if (this.closing) return;
    if (this.req === null) {
      // Whatever is buffered is an incomplete request: nothing more will come to finish it.
      this.finishClose();
    } else if (!this.messageDone) {
      this.body?.fail(new Error('client closed the connection before the request body ended'));
      this.body = null;
      this.finishClose();
    }
    // else: the request is complete, its response is in flight; exchangeDone closes.
  }

  onDrain(): void {
    const ws = this.drainWaiters;
    this.drainWaiters = null;
    if (ws) for (const w of ws) w.resolve();
    if (this.outputBlocked) {
      this.outputBlocked = false;
      this.drive();
    }
  }

  onClose(): void {
    this.closing = true;
    this.deadline = 0;
    this.pending = null;
    // An Error captures a stack trace (microseconds): only make one when someone will see it.
    if (this.body !== null) this.body.fail(new Error('connection closed'));
    this.body = null;
    this.abandonExchange();
    this.req = this.res = this.head = null;
    const ws = this.drainWaiters;
    this.drainWaiters = null;
    if (ws) {
      const err = new Error('connection closed');
      for (const w of ws) w.reject(err);
    }
    if (this.parser !== null && this.parser.idle) this.hl.releaseParser(this.parser);
    this.parser = null;
    this.hl.remove(this);
  }

  /**
   * The server is stopping: the response in flight says close and the
   * connection closes after it; a request arriving meanwhile is still served
   * (with close). The loop closes what stays idle (closeIfIdle) a moment later:
   * closing at once would race a client that is sending its next request.
   */
  onStop(): void {
    this.hl.beginStop();
  }

  /** Closes the connection if no request is on it, not even part of one. */
  closeIfIdle(): void {
    if (this.closing || this.req !== null || this.pendingBytes > 0) return;
    if (this.parser !== null && this.parser.inHead) return;
    this.finishClose();
  }

  // ---- parsing --------------------------------------------------------------

  private parse(data: Uint8Array, pos: number, end: number): number {
    const parser = (this.parser ??= this.hl.takeParser());
    this.processing = true;
    try {
      while (!this.closing) {
        if (this.blocked()) break;
        const ev = parser.execute(data, pos, end);
        pos = parser.pos;
        if (ev === EV_NEED_MORE) break;
        this.bytesAfterHead = end - pos;
        if (ev === EV_BODY) this.onBody(data, parser.bodyStart, parser.bodyEnd);
        else if (ev === EV_HEAD_ONLY) this.onHead(parser.head!, true);
        else if (ev === EV_HEAD) this.onHead(parser.head!, false);
        else this.onMessageEnd();
      }
    } catch (err) {
      pos = end;
      this.protocolError(err instanceof HttpError ? err : this.internal(err));
    } finally {
      this.processing = false;
    }
    return pos;
  }

  private blocked(): boolean {
    if (this.req !== null && this.messageDone) return true; // the next request waits for this response
    if (this.body !== null && this.body.full) return true;
    if (this.outputBlocked) return true;
    if (this.conn.bufferedAmount >= this.conn.highWaterMark) {
      this.outputBlocked = true; // the client is not reading: stop producing responses
      return true;
    }
    return false;
  }

  /** A request head; `complete` when it has no body (the whole request is here). */
  private onHead(head: RequestHead, complete: boolean): void {
    this.hl.loop.stats.c[S.requests]!++;
    this.reqStart = this.hl.loop.now();
    this.head = head;
    this.messageDone = complete;
    this.responded = false;
    this.continueSent = false;
    if (this.requestStart === 0) this.requestStart = this.hl.loop.now(); // pipelined: waiting is not its fault
    let body: RequestBody | null = null;
    if (head.hasBody) {
      body = new RequestBody(this, head.chunked ? -1 : head.contentLength);
      this.lastBodyAt = this.hl.loop.now();
    }
    this.body = body;
    const req = new HttpRequest(head, body, this);
    const res = new HttpResponse(this, head.method === 'HEAD', head.versionMinor);
    this.req = req;
    this.res = res;
    try {
      const r = this.hl.app(req, res, this.hl.ctx);
      if (r !== undefined && r !== null && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(undefined, (err: unknown) => this.handlerFailed(res, err));
      }
    } catch (err) {
      this.handlerFailed(res, err);
    }
  }

  private onBody(data: Uint8Array, start: number, end: number): void {
    this.lastBodyAt = this.hl.loop.now();
    if (this.body !== null) this.body.push(data, start, end);
  }

  private onMessageEnd(): void {
    this.messageDone = true;
    const body = this.body;
    this.body = null;
    body?.end();
    if (this.responded) this.exchangeDone();
  }

  // ---- responses --------------------------------------------------------------

  beginWrite(): boolean {
    if (this.closing || this.conn.isClosed) return false;
    this.output.begin(this.conn);
    return true;
  }

  mayKeepAlive(): boolean {
    const max = this.hl.options.maxRequestsPerConnection;
    return (
      !this.closing &&
      !this.hl.draining &&
      this.head !== null &&
      this.head.keepAlive &&
      (max === 0 || this.served + 1 < max) &&
      !this.bodyWithheld()
    );
  }

  /**
   * The client sent `Expect: 100-continue`, got no 100 and has sent nothing of the body: it may
   * never send it, so a response now closes the connection (and says so). A client that sends
   * the body anyway keeps the connection: the rest is discarded.
   */
  private bodyWithheld(): boolean {
    return (
      !this.messageDone &&
      this.head !== null &&
      this.head.expectContinue &&
      !this.continueSent &&
      this.bytesAfterHead === 0 &&
      (this.body === null || this.body.received === 0)
    );
  }

  get congested(): boolean {
    return this.conn.bufferedAmount + (this.output.owner === this.conn ? this.output.pending : 0) >= this.conn.highWaterMark;
  }

  drained(): Promise<void> {
    if (this.conn.isClosed || this.closing) return Promise.reject(new Error('connection closed'));
    if (this.output.owner === this.conn && this.output.pending > 0) this.output.flush();
    if (this.conn.bufferedAmount < this.conn.highWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => (this.drainWaiters ??= []).push({ resolve, reject }));
  }

  responseDone(res: HttpResponse, keepAlive: boolean): void {
    if (res !== this.res) return;
    const req = this.req;
    if (req !== null) this.hl.responded(req, res, this.reqStart);
    this.responded = true;
    this.keepAliveAfter = keepAlive;
    if (!this.messageDone) {
      // Answered before the body was read: if the head kept the connection, the rest of the body
      // is read and discarded (RFC 9110 §10.1.1: the head told the client which).
      const body = this.body;
      this.body = null; // the rest of the body is read and discarded
      body?.fail(new Error('request body discarded: the response was sent first'));
      if (!this.keepAliveAfter) this.finishClose();
      else if (!this.processing) this.drive();
      return;
    }
    this.exchangeDone();
  }

  private exchangeDone(): void {
    this.served++;
    this.requestStart = 0;
    const clientSaidClose = this.head !== null && !this.head.keepAlive;
    this.req = this.res = this.head = null;
    this.responded = false;
    if (!this.keepAliveAfter || (this.peerClosed && this.pendingBytes === 0)) {
      // The client asked to close and sent nothing more: close at once, as nginx does (no
      // lingering for a FIN). Otherwise linger, so unread input cannot turn our FIN into an RST.
      this.finishClose(clientSaidClose && this.pendingBytes === 0);
      return;
    }
    if (this.hl.stopping && this.pendingBytes === 0) {
      this.finishClose();
      return;
    }
    if (!this.processing) this.drive();
  }

  /** A handler threw or rejected: 500 if nothing was sent yet, else the connection is cut. */
  private handlerFailed(res: HttpResponse, err: unknown): void {
    // A response the connection gave up on (closed, or answered with an error status) fails its
    // handler too (a body read rejects): that is the expected end, not a handler bug.
    if (res.abandoned || this.conn.isClosed) return;
    this.hl.reportError(err);
    if (res !== this.res || this.closing) return;
    if (!res.headersSent) {
      res.resetForError(500);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('Internal Server Error\n');
    } else if (!res.finished) {
      this.abandonExchange();
      this.finishClose();
    }
  }

  /**
   * The exchange in flight can no longer complete: its response writes go nowhere, and if the
   * handler was still answering, its request's signal fires (after abandoning, so a listener that
   * writes finds a dead response rather than a half-closed connection).
   */
  private abandonExchange(): void {
    const res = this.res;
    if (res === null) return;
    const answering = !res.finished;
    res.abandon();
    if (answering) this.req?.abort();
  }

  // ---- WebSocket upgrade ------------------------------------------------------

  upgrade(res: HttpResponse, data: unknown): boolean {
    const wsl = this.hl.ws;
    if (wsl === null) {
      throw new Error('upgrade(): this server has no WebSocket handlers: pass serve({ websocket: { message(ws, msg) {...} } }), or export websocket from the app module');
    }
    if (res !== this.res || this.closing || this.conn.isClosed || this.head === null) return false;
    const h = checkHandshake(this.head, wsl.options);
    if (h.ok && this.hl.draining) {
      // The server is going away (the 503 says Connection: close): a new socket would only wait out the stop timeout.
      res.status(503).setHeader('Content-Type', 'text/plain').end('503 Service Unavailable: the server is shutting down\n');
      return false;
    }
    if (!h.ok) {
      if (h.status === 0) return false; // a plain request: the app answers it
      res.status(h.status);
      for (const [k, v] of h.headers) res.setHeader(k, v);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`${h.status} ${STATUS_TEXT[h.status] ?? ''}: ${h.message}\n`);
      return false;
    }
    if (!this.beginWrite()) return false;
    this.output.latin1(switchingProtocols(h, res.fieldLines()));
    res.markUpgraded();
    this.upgrading = wsl.open(this.conn, h, data);
    if (!this.processing) this.handOver();
    return true;
  }

  /** The 101 is written: the connection (and the bytes behind the handshake) go to the WebSocket. */
  private handOver(): void {
    const ws = this.upgrading!;
    this.upgrading = null;
    const rest = this.pending !== null && this.pendEnd > this.pendStart ? this.pending.subarray(this.pendStart, this.pendEnd) : null;
    this.pending = null;
    this.pendStart = this.pendEnd = 0;
    this.closing = true;
    this.deadline = 0;
    if (this.parser !== null && this.parser.idle) this.hl.releaseParser(this.parser);
    this.parser = null;
    this.req = this.res = this.head = null;
    this.body = null;
    this.hl.remove(this);
    this.conn.sendGathered(); // the 101 and what preceded it leave before the WebSocket's own writes
    this.conn.gatherWrites = false;
    this.conn.gatherReads = false;
    this.conn.context = ws;
    if (this.conn.isReadingPaused) this.conn.resumeReading();
    // The 101 is still in the loop's output: start() runs the open handler first and flushes
    // after, so a subscribe() in open is seen by every loop before the client can publish.
    ws.start(rest);
  }

  // ---- AddressSource -----------------------------------------------------------

  clientAddress(head: RequestHead): SockAddr | undefined {
    const peer = this.conn.remoteAddress();
    const trust = this.hl.trustProxy;
    return peer === undefined || trust === null ? peer : trust.resolve(peer, head.headers);
  }

  localAddress(): SockAddr | undefined {
    return this.conn.localAddress();
  }

  tlsInfo(): TlsInfo | null {
    return this.conn.tlsInfo();
  }

  // ---- BodySource -----------------------------------------------------------

  bodyWanted(): void {
    const head = this.head;
    if (head !== null && head.expectContinue && !this.continueSent && this.res !== null && !this.res.headersSent) {
      this.continueSent = true;
      if (this.beginWrite()) {
        this.output.latin1('HTTP/1.1 100 Continue\r\n\r\n');
        this.output.flushSoon();
      }
    }
  }

  bodyDrained(): void {
    if (!this.processing) this.drive();
  }

  // ---- pending input ------------------------------------------------------------

  private get pendingBytes(): number {
    return this.pendEnd - this.pendStart;
  }

  private appendPending(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    let p = this.pending;
    if (p === null) {
      p = this.pending = new Uint8Array(Math.max(n, 4096));
      this.pendStart = this.pendEnd = 0;
    } else if (this.pendEnd + n > p.length) {
      const live = this.pendEnd - this.pendStart;
      if (live + n <= p.length) {
        p.copyWithin(0, this.pendStart, this.pendEnd);
      } else {
        const next = new Uint8Array(Math.max(p.length * 2, live + n));
        next.set(p.subarray(this.pendStart, this.pendEnd));
        this.pending = p = next;
      }
      this.pendStart = 0;
      this.pendEnd = live;
    }
    p.set(bytes, this.pendEnd);
    this.pendEnd += n;
  }

  /** Parses pending input as far as possible, then settles output, reading and timers. */
  private drive(): void {
    if (this.processing) return;
    if (this.pending !== null && !this.closing) {
      const out = this.output;
      out.batching++;
      try {
        const pos = this.parse(this.pending, this.pendStart, this.pendEnd);
        this.pendStart = pos;
        if (this.pending !== null && pos >= this.pendEnd) {
          this.pending = null;
          this.pendStart = this.pendEnd = 0;
        }
      } finally {
        out.batching--;
      }
    }
    this.afterBatch();
  }

  private afterBatch(): void {
    if (this.upgrading !== null) {
      this.handOver();
      return;
    }
    // Whoever owns the scratch now: a handler may have written to other connections (pub/sub).
    if (this.output.pending > 0) this.output.flush();
    if (this.closing || this.conn.isClosed) return;
    if (this.parser !== null && this.req === null && this.pending === null && this.parser.idle) {
      // Between requests nothing of the parser is needed: keep-alive connections stay small.
      this.hl.releaseParser(this.parser);
      this.parser = null;
    }
    if (this.peerClosed && this.req === null) {
      this.finishClose();
      return;
    }
    const pause =
      this.outputBlocked ||
      (this.body !== null && this.body.full) ||
      (this.req !== null && this.messageDone && this.pendingBytes >= PENDING_PAUSE_BYTES);
    if (pause) this.conn.pauseReading();
    else if (this.conn.isReadingPaused) this.conn.resumeReading();
    this.updateTimer();
  }

  // ---- closing ------------------------------------------------------------------

  /**
   * Flushes what is queued, then closes: gracefully (FIN, then discard input until the peer's
   * FIN), or with `quick` at once when everything was sent.
   */
  private finishClose(quick = false): void {
    if (this.closing) return;
    this.closing = true;
    this.deadline = 0;
    this.pending = null;
    if (this.output.owner === this.conn && this.output.pending > 0) this.output.flush();
    if (quick) this.conn.sendGathered(); // a close at once must not cut what the kernel has not taken yet
    if (this.conn.isClosed) return;
    if (quick && this.conn.bufferedAmount === 0) this.conn.forceClose('local');
    else this.conn.close();
  }

  /** A request we cannot serve: answer with its status (unless a response already started) and close. */
  private protocolError(err: HttpError): void {
    const res = this.res;
    this.body?.fail(err);
    this.body = null;
    if (res !== null) {
      this.abandonExchange();
      if (res.headersSent) {
        this.finishClose();
        return;
      }
    }
    this.sendError(err.status);
    this.finishClose();
  }

  private sendError(status: number): void {
    if (!this.beginWrite()) return;
    const req = this.req ?? undefined;
    const text = `${status} ${STATUS_TEXT[status] ?? 'Error'}\n`;
    this.hl.refused(status, req, this.hl.logsAccess ? this.conn.remoteAddress()?.address : undefined, req !== undefined ? this.reqStart : this.requestStart || this.hl.loop.now(), text.length);
    this.output.latin1(
      `${statusLine(status)}${dateLine()}Content-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
    );
  }

  private internal(err: unknown): HttpError {
    this.hl.reportError(err);
    return httpError(400, 'HPE_INTERNAL', 'internal parser error');
  }

  // ---- timeouts -----------------------------------------------------------------

  private updateTimer(): void {
    const o = this.hl.options;
    const now = this.hl.loop.now();
    if (this.closing) {
      this.setTimer(T_NONE, 0);
    } else if (this.req !== null) {
      // A request in flight is cut only by requestTimeout (the whole exchange, until the
      // response ends), or by a stalled body upload.
      this.setTimer(T_NONE, 0);
      if (o.requestTimeout > 0) this.setTimer(T_REQUEST, this.requestStart + o.requestTimeout);
      if (!this.messageDone && !this.outputBlocked && (this.body === null || !this.body.full)) {
        this.earlier(T_BODY, this.lastBodyAt + o.bodyTimeout); // receiving, or discarding, a body
      }
    } else if ((this.parser !== null && this.parser.inHead) || this.pendingBytes > 0) {
      if (this.requestStart === 0) this.requestStart = now;
      this.setTimer(T_HEAD, this.requestStart + o.headersTimeout);
      if (o.requestTimeout > 0) this.earlier(T_REQUEST, this.requestStart + o.requestTimeout);
    } else if (this.served === 0) {
      this.setTimer(T_IDLE, this.requestStart + o.headersTimeout);
    } else {
      this.setTimer(T_IDLE, now + o.keepAliveTimeout);
    }
  }

  private setTimer(kind: number, at: number): void {
    this.timeoutKind = kind;
    this.deadline = at;
  }

  /** Makes `kind` the pending timeout if it fires before the current one. */
  private earlier(kind: number, at: number): void {
    if (this.deadline === 0 || at < this.deadline) this.setTimer(kind, at);
  }

  /** Called by the sweeper while output is queued: closes when the client took nothing for sendTimeout. */
  checkSend(now: number): void {
    const queued = this.conn.bufferedAmount;
    if (queued !== this.sendMark) {
      this.sendMark = queued;
      this.sendSince = now;
    } else if (now - this.sendSince >= this.hl.options.sendTimeout && !this.conn.isClosed) {
      this.closing = true;
      this.deadline = 0;
      this.abandonExchange();
      this.conn.forceClose('timeout');
    }
  }

  /** Called by the sweeper when `deadline` has passed. */
  onTimeout(now: number): void {
    if (this.closing || this.conn.isClosed || this.deadline === 0 || now < this.deadline) return;
    const kind = this.timeoutKind;
    this.deadline = 0;
    if (kind === T_IDLE) {
      if (this.conn.bufferedAmount > 0) {
        // The last response is still on its way to a slow reader: not idle (checkSend watches it).
        this.deadline = now + this.hl.options.keepAliveTimeout;
        return;
      }
      // Nothing of a request arrived: a silent close, like nginx.
      this.closing = true;
      this.conn.forceClose('timeout');
      return;
    }
    if (kind === T_HEAD || kind === T_BODY || kind === T_REQUEST) {
      // 408 if nothing of the response was sent yet, else a plain close (protocolError decides).
      const code = kind === T_HEAD ? 'HPE_HEADERS_TIMEOUT' : kind === T_BODY ? 'HPE_BODY_TIMEOUT' : 'HPE_REQUEST_TIMEOUT';
      this.protocolError(httpError(408, code, 'request timed out'));
    }
  }
}
