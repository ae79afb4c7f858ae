/**
 * Entry of one bench loop thread (-t > 1). Thread: its own worker. Owns its
 * EventLoop and LoopDriver; talks to the main thread by messages only:
 * ready -> go -> (stop) -> done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EventLoop } from '../reactor/index.js';
import { LoopDriver, type DriverConfig } from './driver.js';

if (!parentPort) throw new Error('the bench worker runs in a worker thread');
const port = parentPort;
const cfg = workerData as DriverConfig;
// No index: EventLoop({ index > 0 }) without a statsBuffer throws (LoopStats maps slab index of a one-slab buffer).
const loop = new EventLoop({ name: `bench-${cfg.thread}` });
const driver = new LoopDriver(loop, cfg);

port.on('message', (m: { type: 'go'; startAbsMs: number } | { type: 'stop' }) => {
  if (m.type === 'stop') {
    driver.stop();
    return;
  }
  driver
    .start(m.startAbsMs)
    .then(async (snapshot) => {
      // Settle pending connects before reporting, so the main thread can end us without leaking fds.
      await driver.dispose();
      loop.quit();
      port.postMessage({ type: 'done', snapshot });
      port.close();
    })
    .catch((err: unknown) => {
      port.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    });
});
port.postMessage({ type: 'ready' });
