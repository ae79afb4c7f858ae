/**
 * Entry of a loop worker thread: one EventLoop, the user's handler module,
 * and this loop's share of the server. Thread: the worker's own. Owns its
 * loop and its ServerLoop; the listen fds stay the TcpServer's (a reload or a
 * takeover hands them on to other loops while these drain).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EventLoop } from './EventLoop.js';
import { LoopStats } from './LoopStats.js';
import { LoopQueue, QueueMsg, type QueueHandle } from './LoopQueue.js';
import type { FdShortage } from './Acceptor.js';
import { ServerLoop, type ConnectionOptions, type SniCertificate } from './ServerLoop.js';
import { ServerState } from './ServerState.js';
import { setupFromModule } from './loadModule.js';
import type { TlsServerConfig } from './tls/options.js';

export interface LoopThreadData {
  index: number;
  loops: number;
  module: string;
  moduleOptions: unknown;
  /** The buffer this loop counts in. */
  statsSab: SharedArrayBuffer;
  /** Every buffer a scrape sums (this generation's and the other one's: see TcpServer.statsSabs). */
  statsSabs: readonly SharedArrayBuffer[];
  stateSab: SharedArrayBuffer;
  /** Listen fds this loop accepts on (none with the dispatcher: fds arrive through the queue). */
  listenFds: number[];
  /** Register the listeners with EPOLLEXCLUSIVE (one listener shared by every loop). */
  exclusive: boolean;
  queue: QueueHandle | undefined;
  conn: ConnectionOptions;
}

export type LoopThreadMessage =
  | { type: 'ready' }
  | { type: 'error'; message: string; code?: string }
  | { type: 'fdShortage'; report: FdShortage }
  | { type: 'tls-set'; error?: string }
  /** The SNI callback runs on the server's thread: this loop asks it for a name's certificate (answered by 'sni-answer'). */
  | { type: 'sni'; id: number; name: string }
  /** The loop took what was queued on its listeners and left them. */
  | { type: 'released' }
  | { type: 'stopped' };

/** The server thread's answer to a 'sni' request. */
interface SniAnswer {
  id: number;
  cert: Uint8Array | null;
  key: Uint8Array | null;
  error: string;
}

async function main(): Promise<void> {
  const d = workerData as LoopThreadData;
  const port = parentPort!;
  // A handler's stray exception or rejected promise must not kill the loop
  // and every connection on it: report it and keep serving.
  process.on('uncaughtException', (err) => console.error(`edgeloop[loop ${d.index}]: uncaught exception in a handler:`, err));
  process.on('unhandledRejection', (err) => console.error(`edgeloop[loop ${d.index}]: unhandled rejection in a handler:`, err));
  const loop = new EventLoop({ index: d.index, statsBuffer: d.statsSab, name: `edgeloop-loop-${d.index}` });
  try {
    const handlers = await setupFromModule(d.module, {
      loop,
      index: d.index,
      loops: d.loops,
      options: d.moduleOptions,
      stats: () => LoopStats.readAll(d.statsSabs),
      state: new ServerState(d.stateSab),
    });
    // SNI callback answers in flight, by request id.
    const sniWaiting = new Map<number, { resolve: (c: SniCertificate | null) => void; reject: (e: Error) => void }>();
    let sniIds = 0;
    const askSni = (name: string): Promise<SniCertificate | null> =>
      new Promise((resolve, reject) => {
        const id = ++sniIds;
        sniWaiting.set(id, { resolve, reject });
        port.postMessage({ type: 'sni', id, name } satisfies LoopThreadMessage);
      });
    const server = new ServerLoop(loop, handlers, {
      ...d.conn,
      askSni,
      onFdShortage: (report) => port.postMessage({ type: 'fdShortage', report } satisfies LoopThreadMessage),
    });
    for (const fd of d.listenFds) server.addAcceptor(fd, { exclusive: d.exclusive, ownsFd: false });
    if (d.queue) {
      loop.attachQueue(LoopQueue.from(d.queue), (type, fd) => {
        if (type === QueueMsg.NewConnection) server.newConnection(fd, true);
      });
    }
    port.on('message', (m: { type: string; timeout?: number; tls?: TlsServerConfig } & Partial<SniAnswer>) => {
      if (m.type === 'sni-answer' && m.id !== undefined) {
        const w = sniWaiting.get(m.id);
        sniWaiting.delete(m.id);
        if (m.error !== undefined) w?.reject(new Error(m.error));
        else w?.resolve(m.cert && m.key ? { cert: m.cert, key: m.key } : null);
        return;
      }
      if (m.type === 'tls' && m.tls) {
        try {
          server.setSecureContext(m.tls);
          port.postMessage({ type: 'tls-set' } satisfies LoopThreadMessage);
        } catch (err) {
          port.postMessage({ type: 'tls-set', error: (err as Error).message } satisfies LoopThreadMessage);
        }
        return;
      }
      if (m.type !== 'stop') return;
      const stopped = server.stop(m.timeout ?? 5000);
      port.postMessage({ type: 'released' } satisfies LoopThreadMessage);
      void stopped.then(() => {
        loop.quit();
        port.postMessage({ type: 'stopped' } satisfies LoopThreadMessage);
      });
    });
    port.postMessage({ type: 'ready' } satisfies LoopThreadMessage);
  } catch (err) {
    const e = err as { message?: string; code?: string };
    loop.quit();
    port.postMessage({ type: 'error', message: e.message ?? String(err), code: e.code } satisfies LoopThreadMessage);
  }
}

void main();
