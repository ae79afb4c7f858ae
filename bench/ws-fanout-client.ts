/**
 * The fan-out client of bench:ws: N subscribers and one publisher on
 * ws://127.0.0.1:PORT/pubsub/bench, over plain sockets so that counting costs
 * almost nothing: every delivery of 'hello' is a 7-byte unmasked frame, so a
 * subscriber's deliveries are its bytes after the handshake divided by 7. The
 * publisher keeps a bounded window ahead of the first subscriber, so the
 * server is never asked to buffer without end (which would measure drops).
 * Usage: node ws-fanout-client.js PORT SUBSCRIBERS SECONDS  -> one JSON line
 * (with the client's own CPU time while counting); "counting" on stderr marks
 * the start, so the caller can read the server's CPU time over the same span.
 * Thread: main. Owns its sockets.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { encodeMaskedFrame, FIN, OP_TEXT } from '../src/ws/frame.js';

const [portArg, subsArg, secondsArg] = process.argv.slice(2);
const port = Number(portArg);
const subscribers = Number(subsArg ?? 1000);
const seconds = Number(secondsArg ?? 5);
const FRAME_BYTES = 7; // 2-byte header + 'hello'
const WINDOW = 256;
const HANDSHAKE =
  `GET /pubsub/bench HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

let counting = false;
let delivered = 0;
let firstGot = 0;

function open(onBytes: (n: number) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let head = '';
    let upgraded = false;
    s.on('data', (d: Buffer) => {
      if (upgraded) return onBytes(d.length);
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${head.split('\r\n')[0]}`));
      upgraded = true;
      const rest = head.length - end - 4;
      if (rest > 0) onBytes(rest);
      resolve(s);
    });
    s.once('error', reject);
    s.write(HANDSHAKE);
  });
}

const subs: net.Socket[] = [];
for (let i = 0; i < subscribers; i += 100) {
  const batch = [];
  for (let j = i; j < Math.min(subscribers, i + 100); j++) {
    const first = j === 0;
    batch.push(
      open((n) => {
        if (counting) delivered += n;
        if (first) firstGot += n;
      }),
    );
  }
  subs.push(...(await Promise.all(batch)));
}
const publisher = await open(() => {});
// Subscriptions are registered when the upgrade completes; let every loop settle first.
await new Promise((r) => setTimeout(r, 300));

const frame = encodeMaskedFrame(FIN | OP_TEXT, Buffer.from('hello'), randomBytes(4));
const burst = Buffer.concat(Array.from({ length: 32 }, () => frame));
let sent = 0;
let stopped = false;
function pump(): void {
  if (stopped) return;
  while (sent - firstGot / FRAME_BYTES < WINDOW) {
    publisher.write(burst);
    sent += 32;
  }
  setImmediate(pump);
}
counting = true;
process.stderr.write('counting\n');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
pump();
await new Promise((r) => setTimeout(r, seconds * 1000));
stopped = true;
counting = false;
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const deliveries = Math.floor(delivered / FRAME_BYTES);
console.log(
  JSON.stringify({
    subscribers,
    published: sent,
    deliveries,
    deliveriesPerSecond: Math.round(deliveries / elapsed),
    seconds: elapsed,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
  }),
);
for (const s of [...subs, publisher]) s.destroy();
process.exit(0);
