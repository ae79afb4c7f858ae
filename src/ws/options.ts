/**
 * The `websocket` handlers and options of a server (the shape of Bun's and
 * uWebSockets' WebSocketBehavior), and their validation.
 * Thread: any. Owns nothing.
 */
import type { ServerWebSocket } from './websocket.js';

/** What `send()` and `publish()` return (numbers, as in Bun). */
export const SendStatus = {
  /** Not sent: the socket is closing or closed, or its queue is past maxBackpressure. */
  DROPPED: 0,
  /** Queued: the kernel did not take it all; `drain` runs when the queue falls under the low mark. */
  BACKPRESSURE: -1,
} as const;
/** > 0: the frame's size in bytes, handed to the kernel (or corked for the end of this batch). */
export type SendResult = number;

/** Message data as `send()` and `publish()` take it. Strings go as text frames, bytes as binary. */
export type WsData = string | ArrayBufferView | ArrayBuffer;

export interface SendOptions {
  /** Send as a binary frame (default: true for bytes, false for strings). */
  binary?: boolean;
  /** Compress when permessage-deflate was negotiated (default true; messages under 64 bytes never are). */
  compress?: boolean;
}

/** How permessage-deflate contexts are kept (RFC 7692). */
export type CompressionMode =
  /** One compressor and one decompressor per loop, reset for every message: no memory per connection. */
  | 'shared'
  /** A compressor and decompressor per connection keeping their window between messages when the client allows (better ratio, ~300 KiB each). */
  | 'dedicated';

export interface WebSocketHandlers<T = unknown> {
  /** The handshake is done; the socket can send. */
  open?(ws: ServerWebSocket<T>): void | Promise<void>;
  /** A whole message: a string for text, a Buffer for binary. */
  message?(ws: ServerWebSocket<T>, message: string | Buffer): void | Promise<void>;
  /** The queue fell under the low mark after a send was queued or dropped for backpressure. */
  drain?(ws: ServerWebSocket<T>): void;
  /** The connection is gone: `code` from the peer's close frame, the one we sent, or 1006 when there was none. Once per socket. */
  close?(ws: ServerWebSocket<T>, code: number, reason: string): void;
  /** A ping arrived (the pong is sent automatically). */
  ping?(ws: ServerWebSocket<T>, data: Buffer): void;
  /** A pong arrived. */
  pong?(ws: ServerWebSocket<T>, data: Buffer): void;
  /** A send or a published message was dropped for backpressure (maxBackpressure). */
  dropped?(ws: ServerWebSocket<T>, message: string | Buffer): void;
}

export interface WebSocketOptions {
  /** Largest message accepted, in bytes (after decompression): larger ones close with 1009. Default 16 MiB. */
  maxPayloadLength?: number;
  /** Seconds without a byte from the client before the socket is closed (0 = never). Default 120. */
  idleTimeout?: number;
  /** Ping the client when it has been quiet for half of idleTimeout, so a live client never times out. Default true. */
  sendPings?: boolean;
  /** Bytes queued per socket past which sends are dropped (or the socket closed). Default 1 MiB. */
  maxBackpressure?: number;
  /** Close the socket instead of dropping a send past maxBackpressure. Default false. */
  closeOnBackpressureLimit?: boolean;
  /** Seconds to wait for the peer's close frame (and FIN) after ours before the socket is cut. Default 5. */
  closeTimeout?: number;
  /** permessage-deflate: false (default), 'shared' or 'dedicated'. */
  compression?: false | CompressionMode;
  /**
   * Subprotocols this server speaks, best first, or a function choosing from the client's offer.
   * Default: none (no Sec-WebSocket-Protocol in the answer, whatever the client offers).
   */
  protocols?: readonly string[] | ((offered: readonly string[]) => string | undefined);
  /** ws.publish() reaches the publisher too when it is subscribed. Default false. */
  publishToSelf?: boolean;
}

export type WebSocketBehavior<T = unknown> = WebSocketHandlers<T> & WebSocketOptions;

export interface ResolvedWsOptions {
  maxPayloadLength: number;
  idleTimeoutMs: number;
  sendPings: boolean;
  maxBackpressure: number;
  closeOnBackpressureLimit: boolean;
  closeTimeoutMs: number;
  compression: false | CompressionMode;
  protocols: readonly string[] | ((offered: readonly string[]) => string | undefined);
  publishToSelf: boolean;
}

function seconds(name: string, v: number | undefined, dflt: number, zeroOk: boolean): number {
  if (v === undefined) return dflt * 1000;
  if (typeof v !== 'number' || !(v >= 0 && v < 2 ** 31 / 1000) || (!zeroOk && v === 0)) {
    throw new RangeError(`websocket.${name} must be a number of seconds ${zeroOk ? '>= 0' : '> 0'} (Bun's and uWebSockets' unit), got ${String(v)}`);
  }
  return v * 1000;
}

function bytes(name: string, v: number | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > 2 ** 32) throw new RangeError(`websocket.${name} must be an integer number of bytes from ${min} to 2^32, got ${String(v)}`);
  return v;
}

export function resolveWsOptions(o: WebSocketOptions): ResolvedWsOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('websocket must be an object of handlers and options ({ open, message, close, ... })');
  const c = o.compression ?? false;
  if (c !== false && c !== 'shared' && c !== 'dedicated') {
    throw new RangeError(`websocket.compression must be false, 'shared' or 'dedicated', got ${String(c)}`);
  }
  const p = o.protocols ?? [];
  if (typeof p !== 'function' && !(Array.isArray(p) && p.every((x) => typeof x === 'string'))) {
    throw new TypeError('websocket.protocols must be an array of strings or a function (offered) => string | undefined');
  }
  return {
    maxPayloadLength: bytes('maxPayloadLength', o.maxPayloadLength, 16 * 1024 * 1024, 1),
    idleTimeoutMs: seconds('idleTimeout', o.idleTimeout, 120, true),
    sendPings: o.sendPings ?? true,
    maxBackpressure: bytes('maxBackpressure', o.maxBackpressure, 1024 * 1024, 1024),
    closeOnBackpressureLimit: o.closeOnBackpressureLimit ?? false,
    closeTimeoutMs: seconds('closeTimeout', o.closeTimeout, 5, false),
    compression: c,
    protocols: p,
    publishToSelf: o.publishToSelf ?? false,
  };
}
