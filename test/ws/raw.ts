/**
 * A raw WebSocket client for tests: it can send what no real client would
 * (unmasked frames, reserved bits and opcodes, broken UTF-8, frames split at
 * any byte) and records every frame the server sends, the close frame, and
 * the end of the TCP connection.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { within } from '../helpers.js';

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  op: number;
  payload: Buffer;
}

export interface FrameSpec {
  op: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV bits as 0..7 (4 = RSV1). */
  rsv?: number;
  /** false sends the frame unmasked (a violation from a client). */
  mask?: boolean;
}

export function frame(spec: FrameSpec): Buffer {
  const p = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask ?? true;
  const len = p.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const h = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  h[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.op;
  h[1] = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  if (ext === 2) h.writeUInt16BE(len, 2);
  if (ext === 8) h.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([h, p]);
  const key = randomBytes(4);
  key.copy(h, 2 + ext);
  const body = Buffer.from(p);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([h, body]);
}

export function closeFrame(code?: number, reason: Buffer | string = ''): Buffer {
  if (code === undefined) return frame({ op: 8 });
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const p = Buffer.alloc(2 + r.length);
  p.writeUInt16BE(code, 0);
  r.copy(p, 2);
  return frame({ op: 8, payload: p });
}

export class RawClient {
  readonly frames: ServerFrame[] = [];
  /** Set when the TCP connection ended (FIN or reset). */
  ended = false;
  head = '';
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {}

  /** Connects and completes the handshake (throws unless 101). */
  static async open(port: number, path = '/', extraHeaders = ''): Promise<RawClient> {
    const c = await RawClient.connect(port);
    const key = randomBytes(16).toString('base64');
    c.socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
    );
    await c.until(() => c.head !== '', 'the handshake answer');
    if (!c.head.startsWith('HTTP/1.1 101')) throw new Error(`handshake failed: ${c.head}`);
    return c;
  }

  /** Connects without a handshake: write the request yourself, read `head` / `rest`. */
  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(c));
      const c = new RawClient(s);
      s.on('data', (d: Buffer) => c.onData(d));
      s.on('end', () => c.onEnd());
      s.on('close', () => c.onEnd());
      s.on('error', () => c.onEnd());
      s.once('error', reject);
    });
  }

  /** The HTTP answer and anything after it, as text (for failed handshakes). */
  get text(): string {
    return this.head + this.buf.toString('latin1');
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Sends bytes in pieces of `size` bytes, each its own write (with a pause, so TCP does not merge them). */
  async sendSplit(bytes: Buffer, size: number): Promise<void> {
    for (let i = 0; i < bytes.length; i += size) {
      this.socket.write(bytes.subarray(i, i + size));
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Waits until cond holds (re-checked on every arrival); bounded. */
  async until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
    await within(
      ms,
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (cond()) resolve();
          else this.waiters.push(check);
        };
        check();
      }),
      what,
    );
  }

  /** Waits for the n-th data/control frame (0-based) other than pings. */
  async frameAt(n: number): Promise<ServerFrame> {
    await this.until(() => this.frames.length > n || this.ended, `server frame #${n}`);
    const f = this.frames[n];
    if (!f) throw new Error(`connection ended after ${this.frames.length} frames`);
    return f;
  }

  /** The close frame the server sent and the end of TCP: its code (1005 for none) and reason. */
  async closed(ms = 5000): Promise<{ code: number; reason: string }> {
    await this.until(() => this.ended, 'the server closing the connection', ms);
    const c = this.frames.find((f) => f.op === 8);
    if (!c) return { code: 1006, reason: '' };
    if (c.payload.length < 2) return { code: 1005, reason: '' };
    return { code: c.payload.readUInt16BE(0), reason: c.payload.subarray(2).toString() };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onEnd(): void {
    this.ended = true;
    this.wake();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    if (this.head === '') {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.head = this.buf.subarray(0, i + 4).toString('latin1');
      this.buf = this.buf.subarray(i + 4);
      if (!this.head.startsWith('HTTP/1.1 101')) {
        this.wake();
        return;
      }
    }
    if (!this.head.startsWith('HTTP/1.1 101')) {
      this.wake();
      return;
    }
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const len7 = b[1]! & 0x7f;
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (b.length < 2 + ext) break;
      const len = ext === 0 ? len7 : ext === 2 ? b.readUInt16BE(2) : Number(b.readBigUInt64BE(2));
      if (b.length < 2 + ext + len) break;
      this.frames.push({ fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 7, op: b[0]! & 0x0f, payload: b.subarray(2 + ext, 2 + ext + len) });
      this.buf = b.subarray(2 + ext + len);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
