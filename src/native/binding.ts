/**
 * The native addon, typed. Thread: any (each worker loads its own instance).
 * Owns nothing: every function is a syscall wrapper returning a result or a
 * negative errno; `errors.ts` turns the negatives into named errors.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export interface SockAddr {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6' | 'unknown';
}

export interface InetDiagSocket {
  family: number;
  state: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  inode: number;
  uid: number;
  /** For listeners: current accept-queue length. For others: unread bytes. */
  rqueue: number;
  /** For listeners: the effective backlog. For others: unsent bytes. */
  wqueue: number;
  /**
   * sk_drops (INET_DIAG_SKMEMINFO). For a listener: connection attempts it
   * dropped, SYNs and handshake ACKs alike, each retransmission counted again
   * (u32, wraps). null when the kernel sent no such attribute.
   */
  drops: number | null;
}

export interface NativeBinding {
  constants: Record<string, number>;
  strerror(errno: number): string;
  /** Does nothing: measures the cost of one crossing (bench/crossing). */
  noop(): number;

  socket(family: number): number;
  setsockopt(fd: number, level: number, opt: number, value: number): number;
  getsockopt(fd: number, level: number, opt: number): number;
  setLingerZero(fd: number): number;
  bind(fd: number, host: string, port: number): number;
  listen(fd: number, backlog: number): number;
  accept(fd: number): number;
  connect(fd: number, host: string, port: number): number;
  recv(fd: number, buf: Uint8Array, offset: number, length: number): number;
  send(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** One crossing for a loop turn's sends: ops holds (fd, offset, length, result) per send; results written in place. */
  sendBatch(ops: Int32Array, count: number, arena: Uint8Array): void;
  /** One crossing for a loop turn's reads: ops holds (fd, offset, length, result) per read; results written in place. */
  recvBatch(ops: Int32Array, count: number, arena: Uint8Array): void;
  writev(fd: number, bufs: Uint8Array[]): number;
  shutdown(fd: number, how: number): number;
  close(fd: number): number;
  getsockname(fd: number): SockAddr | number;
  getpeername(fd: number): SockAddr | number;
  getrlimitNofile(): [number, number] | number;
  setrlimitNofile(soft: number, hard: number): number;
  openReserve(): number;
  gettid(): number;

  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, token: number): number;
  epollWait(epfd: number, out: Int32Array, max: number, timeoutMs: number): number;
  eventfd(): number;
  eventfdWrite(fd: number, n: number): number;
  eventfdRead(fd: number): number;

  watch(epfd: number, out: Int32Array, max: number, cb: (n: number) => void): object | number;
  unwatch(handle: object): void;
  watchRef(handle: object, on: boolean): void;

  /**
   * NETLINK_SOCK_DIAG dump of the TCP sockets of `family` (AF_INET/AF_INET6) in
   * the caller's network namespace; `states` is a bitmask of (1 << TCP_STATE),
   * e.g. 1 << 10 for LISTEN. Returns -errno on failure (an NLMSG_ERROR's errno).
   */
  inetDiag(family: number, states: number): InetDiagSocket[] | number;
  /**
   * kcmp(pid1, pid2, KCMP_FILE, fd1, fd2): 0 when both fds are one open file
   * description, 1/2 ordering or 3 when they differ, or -errno (EPERM without
   * ptrace access, EBADF, ESRCH, ENOSYS without CONFIG_KCMP).
   */
  kcmpFile(pid1: number, pid2: number, fd1: number, fd2: number): number;

  // TLS on Node's own OpenSSL (native/src/tls.c; policy in src/reactor/tls/).
  /** This thread's result slots (Int32Array(4)): OUT, PENDING, FLAGS. */
  tlsSetState(state: Int32Array): number;
  /** verify: 0 none, 1 verify and reject, 2 request and record only. Throws on bad PEM. */
  tlsContext(
    server: boolean, cert: Uint8Array | null, key: Uint8Array | null, ca: Uint8Array | null,
    alpnWire: Uint8Array | null, verify: number, ticketKeys: Uint8Array | null, ciphers: string,
  ): TlsContextHandle;
  tlsContextAddSni(ctx: TlsContextHandle, name: string, sniCtx: TlsContextHandle): number;
  /** Handshakes naming a server pause (F_SNI) for the application's certificate: tlsUseCertificate answers. */
  tlsContextAskSni(ctx: TlsContextHandle): number;
  /** The answer to F_SNI: ctx's certificate and key for this connection (null: the default); the next tlsFeed resumes. */
  tlsUseCertificate(h: TlsHandle, ctx: TlsContextHandle | null): number;
  tlsServername(h: TlsHandle): string | null;
  tlsNew(ctx: TlsContextHandle, server: boolean, servername: string, verifyHost: boolean): TlsHandle;
  /** Ciphertext in, plaintext out (returned count), records to send into out (state OUT). */
  tlsFeed(
    h: TlsHandle, cipher: Uint8Array, off: number, len: number,
    plain: Uint8Array, plainOff: number, plainCap: number,
    out: Uint8Array, outOff: number, outCap: number,
  ): number;
  /** Plaintext taken (records into out, state OUT), or -1 on failure. */
  tlsWrite(h: TlsHandle, plain: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number, outCap: number): number;
  tlsTake(h: TlsHandle, out: Uint8Array, off: number, cap: number): number;
  tlsShutdown(h: TlsHandle, out: Uint8Array, off: number, cap: number): number;
  tlsFree(h: TlsHandle): number;
  tlsError(h: TlsHandle): string;
  tlsInfo(h: TlsHandle): NativeTlsInfo;
  /** A non-blocking, close-on-exec AF_UNIX stream socket. */
  unixSocket(): number;
  /** bind/connect to a filesystem path (at most 107 bytes: -ENAMETOOLONG beyond). */
  unixBind(fd: number, path: string): number;
  unixConnect(fd: number, path: string): number;
  /** sendmsg with the fds as SCM_RIGHTS riding on `bytes` (at least one byte, at most 64 fds). */
  sendFds(fd: number, bytes: Uint8Array, fds: number[]): number;
  /** recvmsg into buf[offset, offset+length); received fds are close-on-exec. */
  recvFds(fd: number, buf: Uint8Array, offset: number, length: number): { bytes: number; fds: number[]; truncated: boolean } | number;
  /**
   * setsockopt(SOL_SOCKET, opt, sock_fprog): a classic BPF program given as
   * pairs [code | jt << 16 | jf << 24, k]. SO_ATTACH_FILTER filters this
   * socket's packets; SO_ATTACH_REUSEPORT_CBPF steers its reuseport group.
   */
  attachBpf(fd: number, opt: number, program: Uint32Array): number;
}

declare const tlsContextBrand: unique symbol;
declare const tlsBrand: unique symbol;
/** An SSL_CTX (freed when collected; connections made from it keep it alive). */
export type TlsContextHandle = { readonly [tlsContextBrand]: true };
/** One SSL connection (tlsFree releases it; the handle itself goes with GC). */
export type TlsHandle = { readonly [tlsBrand]: true };

export interface NativeTlsInfo {
  version?: string;
  cipher?: string | null;
  alpn?: string | null;
  servername?: string | null;
  reused?: boolean;
  verifyResult?: number;
  verifyError?: string | null;
  peerCert?: globalThis.Buffer;
}

function locate(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/native -> repo root; also works from src/native when run unbuilt.
  for (const up of ['../../..', '../..', '..']) {
    for (const kind of ['Release', 'Debug']) {
      const p = path.resolve(here, up, 'build', kind, 'edgeloop.node');
      if (fs.existsSync(p)) return p;
    }
  }
  throw new Error(
    'edgeloop: native addon not found (build/Release/edgeloop.node). ' +
      'Run `npm install` (needs python3, make and a C compiler) or `npx node-gyp rebuild`.',
  );
}

const require = createRequire(import.meta.url);
/**
 * The addon's exports, copied into a plain frozen object. Node-API builds the exports object
 * one property at a time and V8 turns it into a dictionary after a few dozen: every
 * `native.send` then went through the generic LoadIC, twice per request (about 4% of a
 * keep-alive request's CPU). A frozen literal has a stable map that optimized code inlines.
 */
function fastCopy<T extends object>(o: T): T {
  return Object.freeze({ ...o });
}
export const native: NativeBinding = fastCopy(require(locate()) as NativeBinding);
/** The names native/src/errors.c exports: add a name there and here together. */
export type ConstantName =
  | 'EPOLLIN' | 'EPOLLOUT' | 'EPOLLERR' | 'EPOLLHUP' | 'EPOLLRDHUP' | 'EPOLLPRI' | 'EPOLLET' | 'EPOLLONESHOT'
  | 'EPOLLEXCLUSIVE' | 'EPOLL_CTL_ADD' | 'EPOLL_CTL_MOD' | 'EPOLL_CTL_DEL' | 'AF_INET' | 'AF_INET6'
  | 'SOL_SOCKET' | 'IPPROTO_TCP' | 'IPPROTO_IPV6' | 'SO_REUSEADDR' | 'SO_REUSEPORT' | 'SO_KEEPALIVE'
  | 'SO_RCVBUF' | 'SO_SNDBUF' | 'SO_ERROR' | 'SO_LINGER' | 'SO_ACCEPTCONN' | 'TCP_NODELAY' | 'TCP_KEEPIDLE'
  | 'TCP_KEEPINTVL' | 'TCP_KEEPCNT' | 'TCP_DEFER_ACCEPT' | 'IPV6_V6ONLY' | 'SHUT_RD' | 'SHUT_WR'
  | 'SHUT_RDWR' | 'EFD_NONBLOCK' | 'EFD_CLOEXEC' | 'EFD_SEMAPHORE' | 'RLIMIT_NOFILE' | 'AF_UNIX' | 'SO_ATTACH_FILTER'
  | 'SO_DETACH_FILTER' | 'SO_ATTACH_REUSEPORT_CBPF' | 'SO_DETACH_REUSEPORT_BPF' | 'SO_INCOMING_CPU';
export const C = fastCopy(native.constants) as Readonly<Record<ConstantName, number>>;
