/**
 * The client side: non-blocking connect with a timeout, a reconnecting
 * client with back-off, and a keep-alive connection pool.
 * Thread: the loop passed in. A Connector owns its socket fd until the
 * connection is established, then hands it to the TcpConnection.
 */
import net from 'node:net';
import { native, C } from '../native/binding.js';
import { Errno, SysError } from '../native/errors.js';
import { EV_WRITE, type Channel, type ChannelOwner } from './Channel.js';
import type { EventLoop } from './EventLoop.js';
import { resolveHosts, validatePort } from './Listener.js';
import { TcpConnection, type ConnectionHandlers } from './TcpConnection.js';
import type { Timer } from './TimerQueue.js';
import { clientContext, DEFAULT_HANDSHAKE_TIMEOUT, type TlsClientOptions } from './tls/options.js';

export interface ConnectOptions {
  host: string;
  port: number;
  /** Connect timeout in ms (default 10000); expiry rejects with ETIMEDOUT. */
  timeout?: number;
  noDelay?: boolean;
  /** Set before the first byte can arrive. Without them, reading starts at setHandlers(). */
  handlers?: ConnectionHandlers;
  /**
   * Aborting it (on the loop's thread) rejects a connect still in progress with
   * ECANCELED and closes its fd at once: the only other way out of a dropped SYN
   * is waiting for the timeout, and a caller that is done should not have to.
   */
  signal?: AbortSignal;
  /**
   * TLS: the promise resolves once the handshake completed (the server's
   * certificate verified against `ca`, or Node's bundled roots, and naming
   * `servername`, default the host) and rejects with a TlsError otherwise.
   */
  tls?: TlsClientOptions;
}

const EINPROGRESS = -Errno.EINPROGRESS;

/** One connect attempt in flight. Thread: its loop's. Owns the fd until handed to a TcpConnection. */
class Connector implements ChannelOwner {
  private readonly channel: Channel;
  private timer: Timer | undefined;
  private done = false;
  private readonly onAbort = () => this.fail(-Errno.ECANCELED, '(cancelled)');

  constructor(
    private readonly loop: EventLoop,
    private readonly fd: number,
    private readonly where: string,
    private readonly opts: ConnectOptions,
    private readonly resolve: (c: TcpConnection) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.channel = loop.channel(fd, this);
  }

  start(): void {
    this.channel.events = EV_WRITE;
    this.loop.poller.updateChannel(this.channel);
    const ms = this.opts.timeout ?? 10000;
    // Infinity: no deadline; a negative timeout fails at once like 0 (connect() rejected NaN).
    if (ms !== Infinity) this.timer = this.loop.runAfter(Math.max(0, ms), () => this.fail(-Errno.ETIMEDOUT, `after ${ms} ms`));
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  handleEvent(): void {
    if (this.done) return;
    const err = native.getsockopt(this.fd, C.SOL_SOCKET, C.SO_ERROR);
    if (err !== 0) return this.fail(err > 0 ? -err : err);
    // A connect to a local ephemeral port can connect to itself (muduo's isSelfConnect).
    const a = native.getsockname(this.fd);
    const b = native.getpeername(this.fd);
    if (typeof a === 'object' && typeof b === 'object' && a.port === b.port && a.address === b.address) {
      return this.fail(-Errno.ECONNREFUSED, '(self-connect)');
    }
    this.finish();
    Promise.resolve(establish(this.loop, this.fd, this.opts, this.where)).then(this.resolve, this.reject);
  }

  fail(errno: number, detail = ''): void {
    if (this.done) return;
    this.finish();
    native.close(this.fd);
    this.reject(new SysError(errno, 'connect', `to ${this.where}${detail ? ` ${detail}` : ''}`));
  }

  private finish(): void {
    this.done = true;
    this.timer?.cancel();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.channel.remove();
  }
}

function establish(loop: EventLoop, fd: number, opts: ConnectOptions, where: string): Promise<TcpConnection> | TcpConnection {
  const conn = new TcpConnection(loop, fd, 'connecting');
  if (opts.noDelay !== false) conn.setNoDelay(true);
  if (opts.handlers) conn.setHandlers(opts.handlers);
  const tls = opts.tls;
  if (tls === undefined) {
    conn.establish(opts.handlers !== undefined);
    return conn;
  }
  return new Promise<TcpConnection>((resolve, reject) => {
    conn.startTls({
      ctx: clientContext(tls),
      server: false,
      servername: tls.servername ?? opts.host,
      verifyHost: tls.rejectUnauthorized !== false,
      handshakeTimeout: tls.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      onHandshake: (err) => {
        if (!err) return resolve(conn);
        conn.forceClose('error');
        reject(Object.assign(err, { message: `TLS connect to ${where}: ${err.message}` }));
      },
    });
    // The handshake needs the reader running; plaintext before setHandlers() is kept for it.
    conn.establish(true);
  });
}

/** A connect that failed with one of these may succeed at the host's next address. */
const TRY_NEXT_ADDRESS = new Set([-Errno.ECONNREFUSED, -Errno.ENETUNREACH, -Errno.EHOSTUNREACH, -Errno.EADDRNOTAVAIL, -Errno.EAFNOSUPPORT]);

/**
 * Connects without blocking; rejects with a SysError (ECONNREFUSED, ETIMEDOUT, ...).
 * A name with several addresses is tried address by address while the answer is
 * "not here" (refused, unreachable); the first address's error is the one reported.
 */
export async function connect(loop: EventLoop, opts: ConnectOptions): Promise<TcpConnection> {
  loop.assertInLoopThread();
  validatePort(opts.port);
  if (opts.timeout !== undefined && Number.isNaN(opts.timeout)) throw new RangeError('connect: timeout must be a number of ms, got NaN');
  const hosts = await resolveHosts(opts.host);
  let first: unknown;
  for (const host of hosts) {
    try {
      return await connectTo(loop, host, opts);
    } catch (err) {
      first ??= err;
      if (!(err instanceof SysError) || !TRY_NEXT_ADDRESS.has(err.errno) || opts.signal?.aborted) break;
    }
  }
  throw first;
}

function connectTo(loop: EventLoop, host: string, opts: ConnectOptions): Promise<TcpConnection> | TcpConnection {
  const where = `${net.isIPv6(host) ? `[${host}]` : host}:${opts.port}`;
  // Aborted while the host was being resolved: no fd was opened, none to close.
  if (opts.signal?.aborted) throw new SysError(-Errno.ECANCELED, 'connect', `to ${where} (cancelled)`);
  const fd = native.socket(net.isIPv6(host) ? C.AF_INET6 : C.AF_INET);
  if (fd < 0) throw new SysError(fd, 'socket');
  const r = native.connect(fd, host, opts.port);
  if (r === 0) return establish(loop, fd, opts, where);
  if (r !== EINPROGRESS) {
    native.close(fd);
    throw new SysError(r, 'connect', `to ${where}`);
  }
  return new Promise<TcpConnection>((resolve, reject) => {
    new Connector(loop, fd, where, opts, resolve, reject).start();
  });
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** First back-off in ms, doubled each time (default 100). */
  initialDelay?: number;
  maxDelay?: number;
}

/**
 * A client that retries its connect with exponential back-off. Thread: its
 * loop's. Owns the back-off timer of the connect() in progress.
 */
export class TcpClient {
  private stopped = false;
  /** The back-off in progress: its timer, and how to end it early. */
  private sleeping: { timer: Timer; wake: () => void } | undefined;

  constructor(
    readonly loop: EventLoop,
    private readonly opts: ConnectOptions & { retry?: RetryOptions },
  ) {}

  async connect(): Promise<TcpConnection> {
    const attempts = this.opts.retry?.attempts ?? 5;
    let delay = this.opts.retry?.initialDelay ?? 100;
    const maxDelay = this.opts.retry?.maxDelay ?? 5000;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      if (this.stopped) break;
      try {
        return await connect(this.loop, this.opts);
      } catch (err) {
        last = err;
        if (i + 1 >= attempts || this.stopped) break;
        await new Promise<void>((wake) => {
          this.sleeping = { timer: this.loop.runAfter(delay, wake), wake };
        });
        this.sleeping = undefined;
        delay = Math.min(maxDelay, delay * 2);
      }
    }
    throw last ?? new Error('TcpClient: stopped');
  }

  /** Gives up: a connect() waiting out a back-off rejects now with the last error. */
  stop(): void {
    this.stopped = true;
    // Cancelling the timer alone would leave connect() waiting forever.
    const s = this.sleeping;
    this.sleeping = undefined;
    s?.timer.cancel();
    s?.wake();
  }
}

export interface PoolOptions extends Omit<ConnectOptions, 'handlers'> {
  /** Most connections open at once (default 16). */
  max?: number;
  /** Close a pooled connection idle this long (ms, default 30000). */
  idleTimeout?: number;
}

/**
 * Keep-alive connections to one address (pitfall 13: connect cost turns short
 * connections into long ones). Thread: its loop's. Owns its idle connections;
 * a borrowed connection belongs to the borrower until release().
 */
export class ConnectionPool {
  private idle: TcpConnection[] = [];
  private readonly all = new Set<TcpConnection>();
  private waiters: Array<{ resolve: (c: TcpConnection) => void; reject: (e: unknown) => void }> = [];
  private connecting = 0;
  private closed = false;

  constructor(
    readonly loop: EventLoop,
    private readonly opts: PoolOptions,
  ) {}

  get size(): { open: number; idle: number; waiting: number } {
    this.prune();
    return { open: this.all.size + this.connecting, idle: this.idle.length, waiting: this.waiters.length };
  }

  async acquire(): Promise<TcpConnection> {
    if (this.closed) throw new Error('ConnectionPool is closed');
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.isClosed && c.state === 'connected') {
        c.setIdleTimeout(0);
        return c;
      }
    }
    this.prune();
    if (this.all.size + this.connecting < (this.opts.max ?? 16)) {
      this.connecting++;
      try {
        const c = await connect(this.loop, { ...this.opts, handlers: this.idleHandlers() });
        this.all.add(c);
        return c;
      } finally {
        this.connecting--;
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Returns a connection. One that is closed or half-closed, or that still
   * holds state of its borrower (reading paused, input left unconsumed), is
   * closed and dropped instead: the next borrower must start clean.
   */
  release(conn: TcpConnection): void {
    // Not assertInLoopThread(): giving a connection back during teardown, after quit, is fine.
    if (!this.loop.isInLoopThread()) throw new Error(`ConnectionPool: release() called off ${this.loop.name}'s thread`);
    if (this.idle.includes(conn)) return; // released twice: one connection, one borrower
    if (conn.isClosed || conn.state !== 'connected' || this.closed || conn.isReadingPaused || conn.bufferedInput > 0) {
      this.all.delete(conn);
      if (!conn.isClosed) {
        // Detach the borrower first: its onClose must not hear of a connection it gave back.
        conn.setHandlers({});
        conn.forceClose('local');
      }
      this.serveWaiter();
      return;
    }
    // The borrower's handlers go before anyone else can get the connection:
    // bytes arriving until the next borrower sets its own (a late reply to the
    // last request) must not reach the old callbacks. The idle handlers treat
    // them as stray and close the connection.
    conn.setHandlers(this.idleHandlers());
    const w = this.waiters.shift();
    if (w) return w.resolve(conn);
    conn.setIdleTimeout(this.opts.idleTimeout ?? 30000);
    this.idle.push(conn);
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle) c.forceClose('local');
    this.idle = [];
    for (const w of this.waiters) w.reject(new Error('ConnectionPool closed'));
    this.waiters = [];
  }

  /** While idle in the pool: a close frees the slot; unexpected bytes close the connection. */
  private idleHandlers(): ConnectionHandlers {
    return {
      onMessage: (c) => c.forceClose('error'),
      onClose: (c) => {
        this.all.delete(c);
        this.idle = this.idle.filter((x) => x !== c);
        this.serveWaiter();
      },
    };
  }

  /** A slot freed up: open a connection for the oldest waiter. */
  private serveWaiter(): void {
    const w = this.waiters.shift();
    if (w && !this.closed) this.acquire().then(w.resolve, w.reject);
  }

  /** Borrowed connections that closed under their borrower free their slot too. */
  private prune(): void {
    for (const c of this.all) if (c.isClosed) this.all.delete(c);
  }
}
