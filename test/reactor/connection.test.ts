/**
 * TcpConnection behaviour a handler relies on. Real sockets on 127.0.0.1,
 * bounded waits, every server stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { SysError } from '../../src/native/errors.js';
import type { TlsError } from '../../src/reactor/tls/TlsError.js';
import { TcpServer, type CloseReason, type TcpConnection } from '../../src/reactor/index.js';
import { waitFor, within } from '../helpers.js';

test('resumeReading() hands over input that was already buffered: pipelined lines do not stall', async () => {
  const seen: string[] = [];
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onMessage(conn, buf) {
        // One line at a time; reading pauses until the line is "done" (a timer).
        const text = new TextDecoder().decode(buf.peek());
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        seen.push(text.slice(0, nl));
        buf.retrieve(nl + 1);
        conn.pauseReading();
        conn.loop.runAfter(5, () => conn.resumeReading());
      },
    },
  });
  const { port } = await server.listen();
  const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('a\nb\nc\n')); // one segment, nothing after it
  s.on('error', () => {});
  try {
    await waitFor(() => seen.length === 3, 3000, `all three lines (got ${JSON.stringify(seen)})`);
    assert.deepEqual(seen, ['a', 'b', 'c']);
  } finally {
    s.destroy();
    await server.stop({ timeout: 200 });
  }
});

interface Outcome {
  reason: CloseReason;
  error?: SysError | TlsError;
  /** Bytes the server's onMessage saw. */
  received: number;
}

/**
 * One connection through a server that shuts down its side at once and starts
 * reading only after `startAfter` ms, so everything the peer sent (bytes, FIN
 * or RST) is already there and arrives in one epoll report together with
 * EPOLLHUP. onMessage consumes each chunk and pauses reading for a moment, as
 * a handler doing work per message would.
 */
async function pausedHalfClose(client: (s: net.Socket) => void, startAfter = 150): Promise<Outcome> {
  let received = 0;
  let resolve!: (r: Outcome) => void;
  const closed = new Promise<Outcome>((r) => (resolve = r));
  const server = new TcpServer({
    port: 0,
    loops: 1,
    handlers: {
      onConnection(conn) {
        conn.pauseReading();
        conn.shutdown();
        conn.loop.runAfter(startAfter, () => conn.resumeReading());
      },
      onMessage(conn, buf) {
        received += buf.readableBytes;
        buf.retrieveAll();
        conn.pauseReading();
        conn.loop.runAfter(1, () => conn.resumeReading());
      },
      onClose: (_c, reason, error) => resolve({ reason, error, received }),
    },
  });
  const { port } = await server.listen();
  const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => client(s));
  s.on('error', () => {});
  s.resume();
  try {
    return await within(4000, closed, 'the server-side close');
  } finally {
    s.destroy();
    await server.stop({ timeout: 200 });
  }
}

test('close reason with reading paused: our FIN, then the peer\'s bytes and FIN, is a graceful local close and loses no byte', async () => {
  const small = await pausedHalfClose((s) => s.once('end', () => s.end('last words')));
  assert.equal(small.reason, 'local', `got ${small.reason} ${small.error?.message ?? ''}`);
  assert.equal(small.error, undefined);
  assert.equal(small.received, 'last words'.length);

  // More than one read's worth: what is still in the kernel after the pause must be read, not dropped.
  const size = 256 * 1024;
  const big = await pausedHalfClose((s) => s.once('end', () => s.end(Buffer.alloc(size, 7))), 300);
  assert.equal(big.reason, 'local', `got ${big.reason} ${big.error?.message ?? ''}`);
  assert.equal(big.received, size);
});

test('close reason with reading paused: a real RST is still a reset', async () => {
  const r = await pausedHalfClose((s) =>
    s.once('end', () => {
      s.write('x', () => s.resetAndDestroy());
    }),
  );
  assert.equal(r.reason, 'reset', `got ${r.reason}`);
});
