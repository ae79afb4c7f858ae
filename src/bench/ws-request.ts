/**
 * The bytes of a ws:// run, built once: the upgrade request and the masked
 * message frames every connection sends. Thread: any. Owns the encoded bytes.
 * One masking key per run: RFC 6455 wants keys unpredictable to defeat cache
 * poisoning through proxies, which a load generator aimed at its own servers
 * does not face; a fresh key per frame would make the client the bottleneck.
 */
import { randomBytes } from 'node:crypto';
import { acceptKey } from '../ws/handshake.js';
import { encodeMaskedFrame, FIN, OP_BINARY, OP_TEXT } from '../ws/frame.js';
import type { BenchOptions } from './options.js';

export interface WsRequest {
  handshake: Uint8Array;
  /** The Sec-WebSocket-Accept the server must answer with. */
  accept: string;
  /** One message frame, and `pipeline` of them back to back. */
  single: Uint8Array;
  batch: Uint8Array;
  /** Payload bytes of the message: an echo of another length is malformed. */
  length: number;
  /** The masking key, for the pongs and close frames the client answers with. */
  key: Uint8Array;
}

export function buildWsRequest(o: Pick<BenchOptions, 'target' | 'headers' | 'body' | 'pipeline' | 'ws'>): WsRequest {
  const nonce = randomBytes(16).toString('base64');
  const given = new Set(o.headers.map(([k]) => k.toLowerCase()));
  let head = `GET ${o.target.path} HTTP/1.1\r\n`;
  if (!given.has('host')) head += `Host: ${o.target.hostHeader}\r\n`;
  if (!given.has('user-agent')) head += 'User-Agent: edgeloop-bench\r\n';
  head += `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${nonce}\r\nSec-WebSocket-Version: 13\r\n`;
  for (const [k, v] of o.headers) head += `${k}: ${v}\r\n`;
  head += '\r\n';
  const key = new Uint8Array(randomBytes(4));
  const payload = o.body ?? new Uint8Array(0);
  const single = encodeMaskedFrame(FIN | (o.ws?.binary ? OP_BINARY : OP_TEXT), payload, key);
  const batch = new Uint8Array(single.length * o.pipeline);
  for (let i = 0; i < o.pipeline; i++) batch.set(single, i * single.length);
  return { handshake: new Uint8Array(Buffer.from(head, 'latin1')), accept: acceptKey(nonce), single, batch, length: payload.length, key };
}
