/**
 * Request bytes, built once per run. Thread: any. Owns the encoded bytes.
 * Serialising per request would make the client the bottleneck it is meant to
 * measure, so every connection sends the same pre-built bytes (and a
 * pre-concatenated batch when pipelining).
 */
import type { BenchOptions } from './options.js';

export interface RequestBytes {
  /** One request. */
  single: Uint8Array;
  /** `pipeline` copies back to back, for filling a pipelined connection in one write. */
  batch: Uint8Array;
  /** Whether responses have no body regardless of their headers. */
  head: boolean;
}

type RequestShape = Pick<BenchOptions, 'target' | 'method' | 'headers' | 'body' | 'close' | 'pipeline'>;

export function buildRequest(o: RequestShape): RequestBytes {
  const given = new Set(o.headers.map(([k]) => k.toLowerCase()));
  let head = `${o.method} ${o.target.path} HTTP/1.1\r\n`;
  if (!given.has('host')) head += `Host: ${o.target.hostHeader}\r\n`;
  if (!given.has('user-agent')) head += 'User-Agent: edgeloop-bench\r\n';
  for (const [k, v] of o.headers) head += `${k}: ${v}\r\n`;
  // A body needs a length or the server cannot find the next request.
  if (o.body && !given.has('content-length') && !given.has('transfer-encoding')) {
    head += `Content-Length: ${o.body.length}\r\n`;
  }
  // Tell the server too, so it closes first and the TIME_WAIT lands on its side
  // as it would with ab without -k.
  if (o.close && !given.has('connection')) head += 'Connection: close\r\n';
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  const single = new Uint8Array(headBytes.length + (o.body?.length ?? 0));
  single.set(headBytes, 0);
  if (o.body) single.set(o.body, headBytes.length);
  const batch = new Uint8Array(single.length * o.pipeline);
  for (let i = 0; i < o.pipeline; i++) batch.set(single, i * single.length);
  return { single, batch, head: o.method === 'HEAD' };
}
