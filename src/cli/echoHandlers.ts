/**
 * The echo server's handlers, loaded in every loop thread. Thread: the loop
 * that calls setup. Owns nothing beyond its connections' pause state.
 * Backpressure: a peer that does not read its echo pauses our reading.
 */
import type { ServerHandlers } from '../reactor/index.js';

export default function setup(): ServerHandlers {
  return {
    onMessage(conn, buf) {
      const ok = conn.send(buf.peek());
      buf.retrieveAll();
      if (!ok) conn.pauseReading();
    },
    onDrain(conn) {
      conn.resumeReading();
    },
  };
}
