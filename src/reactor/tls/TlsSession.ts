/**
 * TLS on one TcpConnection: ciphertext the connection received goes in,
 * plaintext comes out to its handlers; plaintext they send goes out as
 * records through the connection's own send path (its output buffer and
 * backpressure). Thread: its connection's loop. Owns the native SSL handle
 * and the handshake timer.
 *
 * The plaintext and record scratch buffers are per thread (module state is
 * per worker), shared by every session of the loop like its read buffer.
 * Records made by one call leave in one send.
 */
import { createRequire } from 'node:module';
import type { X509Certificate } from 'node:crypto';
import { native, type TlsContextHandle, type TlsHandle } from '../../native/binding.js';
import { Buffer as ReactorBuffer } from '../Buffer.js';
import type { Timer } from '../TimerQueue.js';
import type { TcpConnection } from '../TcpConnection.js';
import type { HandshakeGate } from './HandshakeGate.js';
import { TlsError } from './TlsError.js';

// Mirrors native/src/tls.c.
const ST_OUT = 0;
const ST_PENDING = 1;
const ST_FLAGS = 2;
const F_JUST_DONE = 2;
const F_PEER_CLOSED = 4;
const F_MORE = 8;
const F_ERROR = 16;
const F_SNI = 32;

const state = new Int32Array(4);
native.tlsSetState(state);
// A whole read buffer of ciphertext (64 KiB) plus a record held back from the
// previous read fits: one feed per read in the common case.
const plain = new ReactorBuffer(96 * 1024);
const OUT_CAP = 64 * 1024 + 1024;
const out = new Uint8Array(OUT_CAP);

/** A handshake that sends more than this before finishing is not a handshake. */
const MAX_DEFERRED = 64 * 1024;
const TLS_HANDSHAKE_RECORD = 0x16;
const EMPTY = new Uint8Array(0);

export interface TlsInfo {
  /** 'TLSv1.3' or 'TLSv1.2'. */
  protocol: string;
  cipher: string | null;
  /** The ALPN protocol agreed on, or null. */
  alpnProtocol: string | null;
  /** The SNI name the client sent, or null. */
  servername: string | null;
  /** The session was resumed (ticket or TLS 1.3 PSK): no full handshake. */
  sessionReused: boolean;
  /** The peer's certificate verified against the CA (always false without one). */
  authorized: boolean;
  /** Why it did not verify, when it did not. */
  authorizationError: string | null;
  /** The peer's certificate (mTLS, or the server's for a client), or null. */
  peerCertificate: X509Certificate | null;
}

export interface TlsSessionOptions {
  ctx: TlsContextHandle;
  server: boolean;
  handshakeTimeout: number;
  gate?: HandshakeGate;
  servername?: string;
  verifyHost?: boolean;
  /** Answered to a first byte that starts plain HTTP, before closing (null: just close). */
  plainHttpReply?: string | null;
  /** The SNI callback's certificate for a name (null: the default); the handshake waits for it. */
  pickCertificate?: (servername: string) => Promise<TlsContextHandle | null>;
  /** Told once: the handshake completed (no error) or failed / the connection ended first. */
  onHandshake?: (err?: Error) => void;
}

export class TlsSession {
  private handle: TlsHandle | null;
  private done = false;
  private seen = 0;
  private deferred: Uint8Array | null = null;
  private timer: Timer | undefined;
  /** Plaintext sent before the handshake completed (a client's first request). */
  private early: Uint8Array[] | null = null;
  private closeNotifySent = false;
  private infoCache: TlsInfo | undefined;
  private handshakeReported = false;
  /** Failed or answered as plain HTTP: whatever else arrives is dropped while the close completes. */
  private dead = false;
  /** Waiting for the SNI callback: input is held (deferred) until it answers. */
  private picking = false;
  /** Loop time the handshake started and how long it took (ms). */
  readonly startedAt: number;
  handshakeMs = -1;

  constructor(
    private readonly conn: TcpConnection,
    private readonly opts: TlsSessionOptions,
  ) {
    this.handle = native.tlsNew(opts.ctx, opts.server, opts.servername ?? '', opts.verifyHost ?? false);
    this.startedAt = conn.loop.now();
    if (opts.handshakeTimeout > 0 && opts.handshakeTimeout < Infinity) {
      this.timer = conn.loop.runAfter(opts.handshakeTimeout, () => {
        this.timer = undefined;
        if (!this.done && !conn.isClosed) {
          conn.tlsFailed(new TlsError('ERR_TLS_HANDSHAKE_TIMEOUT', `TLS handshake not complete after ${opts.handshakeTimeout} ms`), 'timeout');
        }
      });
    }
  }

  get handshakeDone(): boolean {
    return this.done;
  }

  /**
   * Client side: sends the ClientHello. No plaintext can come out yet, so the
   * shared plaintext buffer is left alone (a connect made from inside another
   * connection's onMessage must not clobber what that handler is reading).
   */
  start(): void {
    const h = this.handle;
    if (h === null) return;
    native.tlsFeed(h, out, 0, 0, out, 0, 0, out, 0, OUT_CAP);
    const flags = state[ST_FLAGS]!;
    const outLen = state[ST_OUT]!;
    const pending = state[ST_PENDING]!;
    if (outLen > 0) this.conn.sendCipher(out, 0, outLen);
    if (pending > 0) this.flushPending();
    if (flags & F_ERROR) this.fail();
  }

  /** Ciphertext arrived (the loop's read buffer, valid for this call only). */
  receive(data: Uint8Array, off: number, len: number): void {
    if (this.dead) return;
    if (this.deferred !== null || this.picking) {
      this.holdMore(data, off, len);
      return;
    }
    if (!this.done) {
      if (this.seen === 0 && this.opts.server && data[off] !== TLS_HANDSHAKE_RECORD && this.plainHttp(data[off])) return;
      const gate = this.opts.gate;
      if (gate !== undefined && !gate.admit()) {
        this.holdMore(data, off, len);
        this.conn.holdReading(true);
        gate.defer(this);
        return;
      }
    }
    this.seen += len;
    this.feed(data, off, len);
  }

  /** HandshakeGate: this session's turn came. */
  resume(): void {
    const d = this.deferred;
    this.deferred = null;
    if (d === null || this.conn.isClosed || this.handle === null) return;
    this.conn.holdReading(false);
    this.seen += d.length;
    this.feed(d, 0, d.length);
  }

  private holdMore(data: Uint8Array, off: number, len: number): void {
    const prev = this.deferred;
    const size = (prev?.length ?? 0) + len;
    if (size > MAX_DEFERRED) {
      this.conn.tlsFailed(new TlsError('ERR_TLS_HANDSHAKE', `more than ${MAX_DEFERRED} bytes before the handshake completed`), 'error');
      return;
    }
    const next = new Uint8Array(size);
    if (prev !== null) next.set(prev, 0);
    next.set(data.subarray(off, off + len), prev?.length ?? 0);
    this.deferred = next;
  }

  /** nginx's answer to "plain HTTP request was sent to HTTPS port": a 400, then close. */
  private plainHttp(first: number | undefined): boolean {
    // An uppercase ASCII letter starts every HTTP method; no TLS record type is one.
    if (first === undefined || first < 0x41 || first > 0x5a) return false;
    this.dead = true;
    const reply = this.opts.plainHttpReply;
    if (reply) this.conn.sendCipher(Buffer.from(reply, 'latin1'), 0, Buffer.byteLength(reply, 'latin1'));
    this.conn.tlsFailed(new TlsError('ERR_TLS_HANDSHAKE', 'plain HTTP was sent to the TLS port'), 'error', reply ? 'graceful' : 'now');
    return true;
  }

  private feed(data: Uint8Array, off: number, len: number): void {
    const conn = this.conn;
    let first = true;
    for (;;) {
      const h = this.handle;
      if (h === null || conn.isClosed) return;
      plain.retrieveAll();
      const n = native.tlsFeed(h, data, off, first ? len : 0, plain.data, plain.w, plain.writableBytes, out, 0, OUT_CAP);
      first = false;
      const flags = state[ST_FLAGS]!;
      const outLen = state[ST_OUT]!;
      const pending = state[ST_PENDING]!;
      // Records first (handshake flights, alerts, key updates): a failure's alert still leaves.
      if (outLen > 0) conn.sendCipher(out, 0, outLen);
      if (pending > 0) this.flushPending();
      if (flags & F_ERROR) {
        this.fail();
        return;
      }
      if (flags & F_SNI) {
        this.pick();
        return;
      }
      if (flags & F_JUST_DONE) {
        this.handshakeComplete();
        if (conn.isClosed) return;
      }
      if (n > 0) {
        plain.hasWritten(n);
        conn.deliverPlain(plain);
        if (conn.isClosed) return;
      }
      if (flags & F_PEER_CLOSED) {
        conn.tlsPeerClosed();
        return;
      }
      if (!(flags & F_MORE)) return;
    }
  }

  /** The handshake paused for the SNI callback: hold input, ask, then resume with its certificate. */
  private pick(): void {
    const h = this.handle;
    const ask = this.opts.pickCertificate;
    if (this.picking || h === null || ask === undefined) return;
    this.picking = true;
    const conn = this.conn;
    conn.holdReading(true);
    const name = native.tlsServername(h) ?? '';
    const resume = (ctx: TlsContextHandle | null): void => {
      this.picking = false;
      if (this.handle !== h || conn.isClosed || this.dead) return;
      if (native.tlsUseCertificate(h, ctx) < 0) {
        this.fail();
        return;
      }
      conn.holdReading(false);
      const d = this.deferred;
      this.deferred = null;
      this.feed(d ?? EMPTY, 0, d?.length ?? 0);
    };
    ask(name).then(resume, (err: unknown) => {
      this.picking = false;
      if (this.handle !== h || conn.isClosed || this.dead) return;
      this.dead = true;
      const why = err instanceof Error ? err.message : String(err);
      conn.tlsFailed(new TlsError('ERR_TLS_HANDSHAKE', `TLS handshake failed: tls.sni('${name}'): ${why}`), 'error');
    });
  }

  private handshakeComplete(): void {
    this.done = true;
    this.handshakeMs = this.conn.loop.now() - this.startedAt;
    this.timer?.cancel();
    this.timer = undefined;
    this.reportHandshake();
    if (this.conn.isClosed) return;
    this.conn.tlsEstablished();
    const early = this.early;
    this.early = null;
    if (early !== null) for (const b of early) if (!this.conn.isClosed) this.conn.send(b);
  }

  private flushPending(): void {
    for (;;) {
      const h = this.handle;
      if (h === null || this.conn.isClosed) return;
      const n = native.tlsTake(h, out, 0, OUT_CAP);
      // Read before sending: a callback inside send may run another session's call.
      const more = state[ST_PENDING]!;
      if (n > 0) this.conn.sendCipher(out, 0, n);
      if (n <= 0 || more <= 0) return;
    }
  }

  private fail(): void {
    this.dead = true;
    const h = this.handle;
    const why = h === null ? 'closed' : native.tlsError(h) || 'unknown error';
    const code = this.done ? 'ERR_TLS' : 'ERR_TLS_HANDSHAKE';
    this.conn.tlsFailed(new TlsError(code, `TLS ${this.done ? 'record layer' : 'handshake'} failed: ${why}`), 'error');
  }

  /**
   * Encrypts plaintext into records and sends them. Returns the connection's
   * backpressure verdict (false at or above its high-water mark).
   */
  write(b: Uint8Array, off: number, len: number): boolean {
    if (!this.done) {
      // Kept until the handshake completes (a client may send its request at once).
      (this.early ??= []).push(b.slice(off, off + len));
      return true;
    }
    const conn = this.conn;
    let ok = true;
    while (len > 0) {
      const h = this.handle;
      if (h === null || conn.isClosed) return false;
      const took = native.tlsWrite(h, b, off, len, out, 0, OUT_CAP);
      const outLen = state[ST_OUT]!;
      const pending = state[ST_PENDING]!;
      if (outLen > 0) ok = conn.sendCipher(out, 0, outLen);
      if (pending > 0) this.flushPending();
      if (took < 0) {
        this.fail();
        return false;
      }
      off += took;
      len -= took;
    }
    return ok && !conn.isClosed;
  }

  /** Queues close_notify (once, after a completed handshake) ahead of the FIN. */
  closeNotify(): void {
    const h = this.handle;
    if (h === null || !this.done || this.closeNotifySent) return;
    this.closeNotifySent = true;
    const n = native.tlsShutdown(h, out, 0, OUT_CAP);
    if (n > 0) this.conn.sendCipher(out, 0, n);
  }

  info(): TlsInfo | null {
    const h = this.handle;
    if (!this.done) return null;
    if (this.infoCache !== undefined || h === null) return this.infoCache ?? null;
    const i = native.tlsInfo(h);
    const verified = i.verifyResult === 0 && i.peerCert !== undefined;
    this.infoCache = {
      protocol: i.version ?? 'unknown',
      cipher: i.cipher ?? null,
      alpnProtocol: i.alpn ?? null,
      servername: i.servername ?? null,
      sessionReused: i.reused ?? false,
      authorized: verified,
      authorizationError: verified ? null : i.peerCert === undefined ? 'no peer certificate' : (i.verifyError ?? 'unverified'),
      peerCertificate: i.peerCert ? new (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).X509Certificate(i.peerCert) : null,
    };
    return this.infoCache;
  }

  private reportHandshake(err?: Error): void {
    if (this.handshakeReported) return;
    this.handshakeReported = true;
    this.conn.loop.stats.tlsHandshake(err === undefined);
    this.opts.onHandshake?.(err);
  }

  /** Releases OpenSSL's state (the connection closed). */
  free(): void {
    if (!this.done) {
      this.reportHandshake(this.conn.error ?? new TlsError('ERR_TLS_HANDSHAKE', 'the connection closed during the TLS handshake'));
    }
    this.timer?.cancel();
    this.timer = undefined;
    this.deferred = null;
    this.early = null;
    if (this.handle !== null) {
      native.tlsFree(this.handle);
      this.handle = null;
    }
  }
}
