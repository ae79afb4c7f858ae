/**
 * TcpConnection behaviour a handler relies on. Real sockets on 127.0.0.1,
 * bounded waits, every server stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TcpServer } from '../../src/reactor/index.js';
import { waitFor } from '../helpers.js';

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
