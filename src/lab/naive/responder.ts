/**
 * The HTTP side of a naive server: answers every request on the connections
 * the accept workers register in its epoll instance, with a fixed 200. It
 * exists so that `edgeloop bench` can drive the naive servers; the accept path
 * is what the lab measures, so this stays minimal (GET without a body,
 * keep-alive unless the client says close).
 * Thread: the server process's main thread (its libuv loop watches the epoll
 * fd). Owns the epoll instance and every connection fd registered in it.
 *
 * Connections are keyed by fd, which pitfall 10 warns about. It is safe here
 * only because this thread is the one place that closes a connection and it
 * forgets the fd before closing it: a worker can only be handed that number
 * again after the close.
 */
import { native, C } from '../../native/binding.js';
import { Errno } from '../../native/errors.js';

const EAGAIN = -Errno.EAGAIN;
const BODY = 'hello';
const KEEP = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`);
const CLOSE = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`,
);
const END_OF_HEAD = '\r\n\r\n';

export class Responder {
  readonly epfd: number;
  private readonly events = new Int32Array(2 * 256);
  private readonly buf = Buffer.alloc(64 * 1024);
  /** fd -> bytes of an incomplete request head. */
  private readonly pending = new Map<number, string>();
  private watch: object | null = null;
  responses = 0;

  constructor() {
    const ep = native.epollCreate();
    if (ep < 0) throw new Error(`epoll_create1: ${native.strerror(ep)}`);
    this.epfd = ep;
    const w = native.watch(ep, this.events, 256, (n) => this.onEvents(n));
    if (typeof w === 'number') {
      native.close(ep);
      throw new Error(`uv_poll_init on the responder's epoll fd failed (${w})`);
    }
    this.watch = w;
  }

  private onEvents(n: number): void {
    // events holds (events, fd) pairs: the fd is the second of each.
    for (let i = 0; i < n; i++) {
      const fd = this.events[2 * i + 1];
      if (fd !== undefined) this.serve(fd);
    }
  }

  private serve(fd: number): void {
    let head = this.pending.get(fd) ?? '';
    let eof = false;
    for (;;) {
      const r = native.recv(fd, this.buf, 0, this.buf.length);
      if (r > 0) {
        head += this.buf.toString('latin1', 0, r);
        continue;
      }
      if (r === 0 || r !== EAGAIN) eof = true;
      break;
    }
    let end: number;
    while ((end = head.indexOf(END_OF_HEAD)) >= 0) {
      const request = head.slice(0, end);
      head = head.slice(end + END_OF_HEAD.length);
      const close = /^connection:\s*close/im.test(request) || /HTTP\/1\.0$/.test(request.split('\r\n', 1)[0] ?? '');
      const reply = close ? CLOSE : KEEP;
      const sent = native.send(fd, reply, 0, reply.length);
      this.responses++;
      // A short or failed send on a 150-byte reply means the peer is gone or stuck: a naive server just drops it.
      if (close || sent !== reply.length) {
        this.drop(fd);
        return;
      }
    }
    if (eof) this.drop(fd);
    else this.pending.set(fd, head);
  }

  private drop(fd: number): void {
    this.pending.delete(fd);
    native.close(fd); // close() also removes it from the epoll instance
  }

  /** Connections still open. */
  get open(): number {
    return this.pending.size;
  }

  /** Serves what is already reported (the last requests, the clients' FINs) without waiting for libuv. */
  flush(): void {
    for (let i = 0; i < 64; i++) {
      const n = native.epollWait(this.epfd, this.events, 256, 0);
      if (n <= 0) return;
      this.onEvents(n);
    }
  }

  /** Closes every connection it knows, then the epoll instance. Returns how many connections it closed. */
  close(): number {
    if (this.watch) native.unwatch(this.watch);
    this.watch = null;
    this.flush();
    const n = this.pending.size;
    for (const fd of [...this.pending.keys()]) this.drop(fd);
    native.close(this.epfd);
    return n;
  }
}
