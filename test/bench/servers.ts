/**
 * Test fixtures: local servers with known (mis)behaviour for the bench's
 * error taxonomy. Thread: the test's main thread. Each fixture owns its
 * listener and accepted sockets and releases them in stop().
 */
import net from 'node:net';
import http from 'node:http';
import { native, C } from '../../src/native/binding.js';

export interface Fixture {
  port: number;
  stop(): Promise<void>;
}

function listenNet(onSocket: (s: net.Socket) => void): Promise<Fixture> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onSocket(s);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        stop: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** A port with nothing listening: connects are refused. */
export async function refusing(): Promise<Fixture> {
  const f = await listenNet(() => undefined);
  await f.stop();
  return { port: f.port, stop: async () => undefined };
}

/** Reads the request, then answers with RST. */
export function resetting(): Promise<Fixture> {
  return listenNet((s) => s.once('data', () => s.resetAndDestroy()));
}

/** Promises 100 bytes of body, sends 7, closes. */
export function closingMidResponse(): Promise<Fixture> {
  return listenNet((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial')));
}

/** Accepts, reads, never answers. */
export function silent(): Promise<Fixture> {
  return listenNet((s) => s.resume());
}

/** Answers every request with bytes that are not HTTP. */
export function garbage(): Promise<Fixture> {
  return listenNet((s) => s.on('data', () => s.write('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
}

/** Answers every request with `status` over node:http (keep-alive). */
export function httpServer(status = 200, body = 'hello world'): Promise<Fixture & { requests: () => number }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    n++;
    req.resume();
    res.statusCode = status;
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        requests: () => n,
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/**
 * A raw listener with backlog 0 that never accepts: once its accept queue holds
 * one connection the kernel drops further SYNs, so connects time out (errno 110),
 * the seed's "slow server" that was really a full accept queue.
 */
export function neverAccepting(): Fixture {
  const fd = native.socket(C.AF_INET);
  if (fd < 0) throw new Error(`socket: ${fd}`);
  if (native.bind(fd, '127.0.0.1', 0) < 0 || native.listen(fd, 0) < 0) {
    native.close(fd);
    throw new Error('bind/listen failed');
  }
  const addr = native.getsockname(fd);
  if (typeof addr === 'number') throw new Error(`getsockname: ${addr}`);
  return {
    port: addr.port,
    stop: async () => {
      native.close(fd);
    },
  };
}
