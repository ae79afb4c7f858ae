/**
 * The control socket: how a new process takes a running server's listen
 * sockets without the port ever closing. Thread: the one that owns the
 * TcpServer; ControlServer runs its own EventLoop there. ControlServer owns
 * the Unix listen fd, its peers' fds and the socket file (while it is its own);
 * a Handover owns the received fds until a TcpServer adopts them.
 *
 * Protocol (newline-terminated JSON over SOCK_STREAM):
 *   new → old  {"op":"takeover"}
 *   old → new  {"op":"listeners","pid":P,"loops":N,"accept":S}   + the listen fds (SCM_RIGHTS)
 *   (new starts serving on them and binds the control path itself)
 *   new → old  {"op":"drain"}
 *   old → new  {"op":"draining"}   then the old server stops with handover: its
 *              loops leave the sockets (still open in the new process) and finish.
 * The socket file is created 0600: only its owner (and root) can take over.
 */
import fs from 'node:fs';
import { native } from '../native/binding.js';
import { Errno, SysError } from '../native/errors.js';
import { EventLoop } from './EventLoop.js';
import type { Channel, ChannelOwner } from './Channel.js';

const MAX_MESSAGE = 64 * 1024;
const EAGAIN = -Errno.EAGAIN;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface ControlMessage {
  op: string;
  [k: string]: unknown;
}

export interface ControlHandlers {
  /** The listen fds to hand over, and what to say about them. */
  listeners(): { fds: readonly number[]; loops: number; accept: string };
  /** The new process serves: stop (with handover) and exit. */
  drain(): void;
}

function send(fd: number, msg: ControlMessage, fds: readonly number[] = []): void {
  const bytes = encoder.encode(`${JSON.stringify(msg)}\n`);
  const r = native.sendFds(fd, bytes, [...fds]);
  if (r < 0) throw new SysError(r, 'sendmsg', 'on the control socket');
  // Messages are far below a Unix socket's buffer: a short write means the peer is broken.
  if (r !== bytes.length) throw new SysError(-Errno.EMSGSIZE, 'sendmsg', 'on the control socket (short write)');
}

/** Splits received bytes into messages; bounded, so a peer cannot grow it without limit. */
class LineReader {
  private text = '';
  push(bytes: Uint8Array): ControlMessage[] {
    this.text += decoder.decode(bytes, { stream: true });
    if (this.text.length > MAX_MESSAGE) throw new Error('control message too long');
    const out: ControlMessage[] = [];
    let nl: number;
    while ((nl = this.text.indexOf('\n')) >= 0) {
      const line = this.text.slice(0, nl);
      this.text = this.text.slice(nl + 1);
      const m = JSON.parse(line) as unknown;
      if (m === null || typeof m !== 'object' || typeof (m as ControlMessage).op !== 'string') throw new Error('control message without op');
      out.push(m as ControlMessage);
    }
    return out;
  }
}

class ControlPeer implements ChannelOwner {
  private readonly channel: Channel;
  private readonly reader = new LineReader();
  private readonly buf = new Uint8Array(4096);
  closed = false;

  constructor(
    private readonly server: ControlServer,
    readonly fd: number,
  ) {
    this.channel = server.loop.channel(fd, this);
    this.channel.enableReading();
  }

  handleEvent(): void {
    try {
      while (!this.closed) {
        const r = native.recvFds(this.fd, this.buf, 0, this.buf.length);
        if (r === EAGAIN) return;
        if (typeof r === 'number') throw new SysError(r, 'recvmsg', 'on the control socket');
        for (const fd of r.fds) native.close(fd); // nobody sends us descriptors
        if (r.bytes === 0) return this.close();
        for (const m of this.reader.push(this.buf.subarray(0, r.bytes))) {
          if (this.closed) return;
          this.server.handle(this, m);
        }
      }
    } catch (err) {
      this.server.loop.reportError(err);
      this.close();
    }
  }

  reply(msg: ControlMessage, fds: readonly number[] = []): void {
    send(this.fd, msg, fds);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.remove();
    native.close(this.fd);
    this.server.forget(this);
  }
}

export class ControlServer implements ChannelOwner {
  readonly loop = new EventLoop({ name: 'edgeloop-control' });
  private readonly channel: Channel;
  private readonly peers = new Set<ControlPeer>();
  private readonly ino: number;
  private closed = false;

  /**
   * Listens on `path`, replacing whatever file is there in one rename: a
   * process starting meanwhile finds either the old server or this one.
   */
  constructor(
    readonly path: string,
    private readonly handlers: ControlHandlers,
  ) {
    const fd = native.unixSocket();
    if (fd < 0) {
      this.loop.quit();
      throw new SysError(fd, 'socket(AF_UNIX)');
    }
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      fs.rmSync(tmp, { force: true });
      const b = native.unixBind(fd, tmp);
      if (b < 0) throw new SysError(b, 'bind', `control socket ${tmp}`);
      fs.chmodSync(tmp, 0o600);
      const l = native.listen(fd, 16);
      if (l < 0) throw new SysError(l, 'listen', `control socket ${tmp}`);
      fs.renameSync(tmp, path);
      this.ino = fs.statSync(path).ino;
    } catch (err) {
      native.close(fd);
      fs.rmSync(tmp, { force: true });
      this.loop.quit();
      throw err;
    }
    this.channel = this.loop.channel(fd, this);
    this.channel.enableReading();
  }

  handleEvent(): void {
    for (;;) {
      const fd = native.accept(this.channel.fd);
      if (fd < 0) {
        if (fd !== EAGAIN) this.loop.reportError(new SysError(fd, 'accept4', 'on the control socket'));
        return;
      }
      this.peers.add(new ControlPeer(this, fd));
    }
  }

  handle(peer: ControlPeer, m: ControlMessage): void {
    if (this.closed) return peer.close();
    if (m.op === 'takeover') {
      const l = this.handlers.listeners();
      peer.reply({ op: 'listeners', pid: process.pid, loops: l.loops, accept: l.accept }, l.fds);
    } else if (m.op === 'drain') {
      peer.reply({ op: 'draining', pid: process.pid });
      this.close();
      this.handlers.drain();
    } else {
      peer.reply({ op: 'error', message: `unknown op '${m.op}'` });
    }
  }

  forget(peer: ControlPeer): void {
    this.peers.delete(peer);
  }

  /** Stops listening; removes the socket file only while it is still this server's. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.peers]) p.close();
    this.channel.remove();
    native.close(this.channel.fd);
    try {
      if (fs.statSync(this.path).ino === this.ino) fs.rmSync(this.path, { force: true });
    } catch {
      // already gone
    }
    this.loop.quit();
  }
}

/** Listen sockets received from a running server; `finish()` tells it to drain and exit. */
export interface Handover {
  fds: number[];
  /** The old server's pid, loops and accept strategy. */
  pid: number;
  loops: number;
  accept: string;
  /** Tells the old server to drain and exit; resolves when it has acknowledged. */
  finish(): Promise<void>;
  /** Gives up: closes the connection (the old server keeps serving); the caller closes the fds it holds. */
  abort(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads one message (and any fds with it) from a non-blocking socket, polling until the deadline. */
async function receive(fd: number, reader: LineReader, fds: number[], deadline: number): Promise<ControlMessage> {
  const buf = new Uint8Array(4096);
  for (;;) {
    const r = native.recvFds(fd, buf, 0, buf.length);
    if (typeof r === 'number') {
      if (r !== EAGAIN) throw new SysError(r, 'recvmsg', 'on the control socket');
      if (Date.now() > deadline) throw Object.assign(new Error('the running server did not answer on the control socket in time'), { code: 'ETIMEDOUT' });
      await sleep(2);
      continue;
    }
    fds.push(...r.fds);
    if (r.truncated) throw new Error('listen fds were lost in transit (MSG_CTRUNC): the limit on open files may be too low');
    if (r.bytes === 0) throw Object.assign(new Error('the running server closed the control connection'), { code: 'ECONNRESET' });
    const msgs = reader.push(buf.subarray(0, r.bytes));
    if (msgs.length > 0) return msgs[0]!;
  }
}

/**
 * Asks the server listening on `path` for its listen sockets. Resolves to
 * undefined when nobody is there (no file, or a stale one from a process that
 * died: ECONNREFUSED).
 */
export async function requestHandover(path: string, timeoutMs = 5000): Promise<Handover | undefined> {
  const fd = native.unixSocket();
  if (fd < 0) throw new SysError(fd, 'socket(AF_UNIX)');
  const fds: number[] = [];
  const closeAll = (): void => {
    for (const f of fds.splice(0)) native.close(f);
    native.close(fd);
  };
  const c = native.unixConnect(fd, path);
  if (c === -Errno.ENOENT || c === -Errno.ECONNREFUSED) {
    native.close(fd);
    return undefined;
  }
  try {
    if (c < 0) throw new SysError(c, 'connect', `control socket ${path}`);
    const reader = new LineReader();
    send(fd, { op: 'takeover' });
    const m = await receive(fd, reader, fds, Date.now() + timeoutMs);
    if (m.op !== 'listeners' || fds.length === 0) throw new Error(`the running server refused the takeover: ${JSON.stringify(m)}`);
    const received = [...fds];
    return {
      fds: received,
      pid: Number(m.pid),
      loops: Number(m.loops),
      accept: String(m.accept),
      async finish() {
        try {
          send(fd, { op: 'drain' });
          const ack = await receive(fd, reader, [], Date.now() + timeoutMs);
          if (ack.op !== 'draining') throw new Error(`the old server did not agree to drain: ${JSON.stringify(ack)}`);
        } finally {
          native.close(fd);
        }
      },
      abort() {
        native.close(fd);
      },
    };
  } catch (err) {
    closeAll();
    throw err;
  }
}
