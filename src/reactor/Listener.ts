/**
 * Creating listen sockets. Thread: any (the fd is process-wide and is handed
 * to the loop that will accept on it). Owns nothing after return: the caller
 * owns the fd.
 */
import fs from 'node:fs';
import net from 'node:net';
import dns from 'node:dns/promises';
import { native, C } from '../native/binding.js';
import { SysError } from '../native/errors.js';

export interface ListenOptions {
  host: string;
  port: number;
  /** Asked-for backlog; the kernel silently caps it at net.core.somaxconn. */
  backlog?: number | undefined;
  reusePort?: boolean;
  /**
   * With reusePort: this socket starts a new group. SO_REUSEPORT lets any
   * socket of the same user that also sets it join a port, so a second server
   * would silently take a share of the first one's connections. The first
   * socket therefore binds without it (a port anyone holds is EADDRINUSE, as
   * for a plain bind) and sets it before listen(), so the group's own later
   * sockets can still join.
   */
  newGroup?: boolean;
  /** TCP_DEFER_ACCEPT seconds: wake the acceptor only when data has arrived. */
  deferAccept?: number | undefined;
}

export interface Listening {
  fd: number;
  host: string;
  port: number;
  /** The backlog the kernel really uses: min(asked, somaxconn). */
  backlog: number;
  /** Set when the asked-for backlog was cut by somaxconn. */
  backlogTruncatedFrom?: number;
}

/** net.core.somaxconn: the kernel's cap on any listen backlog, and edgeloop's default. */
export function somaxconn(): number {
  try {
    const v = Number.parseInt(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
    return Number.isFinite(v) && v > 0 ? v : 4096;
  } catch {
    return 4096;
  }
}

/** Turns a host name into a numeric address; errors name the host and what to do. */
export async function resolveHost(host: string): Promise<string> {
  return (await resolveHosts(host))[0]!;
}

/**
 * Every address of a host, in the resolver's order: a client tries them in
 * turn (a server on `::1` only is still reached through `localhost`); a
 * server binds the first. `localhost` is 127.0.0.1 first, then ::1, whatever
 * /etc/hosts says.
 */
export async function resolveHosts(host: string): Promise<string[]> {
  if (typeof host !== 'string' || host.trim() === '') {
    // dns.lookup('') "succeeds" with a null address, which bind then rejects with an argument error.
    throw Object.assign(new Error(`invalid host '${String(host)}': empty; use an address such as 127.0.0.1, ::1, 0.0.0.0 or ::`), { code: 'EINVAL' });
  }
  if (net.isIP(host)) return [host];
  if (host === 'localhost') return ['127.0.0.1', '::1'];
  try {
    const found = await dns.lookup(host, { all: true });
    if (found.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
    return [...new Set(found.map((a) => a.address))];
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EAI_FAIL';
    throw Object.assign(new Error(`invalid host '${host}': not an IP address and it does not resolve (${code}); use an address such as 127.0.0.1 or ::1`), { code });
  }
}

export function validatePort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(new RangeError(`invalid port ${String(port)}: must be an integer from 0 to 65535`), { code: 'ERR_INVALID_PORT' });
  }
  return port;
}

/** socket + options + bind + listen; closes the fd on any failure. host must be numeric. */
export function listenTcp(opts: ListenOptions): Listening {
  const { host } = opts;
  const port = validatePort(opts.port);
  const family = net.isIPv6(host) ? C.AF_INET6 : C.AF_INET;
  const where = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const fd = native.socket(family);
  if (fd < 0) throw new SysError(fd, 'socket');
  try {
    const must = (r: number, what: string): void => {
      if (r < 0) throw new SysError(r, what, where);
    };
    must(native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1), 'setsockopt(SO_REUSEADDR)');
    const reuseBeforeBind = opts.reusePort && !opts.newGroup;
    if (reuseBeforeBind) must(native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1), 'setsockopt(SO_REUSEPORT)');
    must(native.bind(fd, host, port), 'bind');
    if (opts.reusePort && !reuseBeforeBind) must(native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1), 'setsockopt(SO_REUSEPORT)');
    const max = somaxconn();
    const asked = opts.backlog ?? max;
    if (!Number.isInteger(asked) || asked < 0) throw new RangeError(`invalid backlog ${asked}: must be a non-negative integer`);
    must(native.listen(fd, asked), 'listen');
    if (opts.deferAccept) native.setsockopt(fd, C.IPPROTO_TCP, C.TCP_DEFER_ACCEPT, opts.deferAccept);
    const name = native.getsockname(fd);
    const bound = typeof name === 'number' ? port : name.port;
    const out: Listening = { fd, host, port: bound, backlog: Math.min(asked, max) };
    if (asked > max) out.backlogTruncatedFrom = asked;
    return out;
  } catch (err) {
    native.close(fd);
    throw err;
  }
}
