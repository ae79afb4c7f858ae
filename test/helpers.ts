/**
 * Test helpers shared by the suites: bounded waits, fd counts, raw clients.
 */
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Rejects when p takes longer than ms: every wait in a test is bounded. */
export function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** Polls cond every 10 ms until true; throws after ms. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(10);
  }
}

export function openFds(pid: number | 'self' = 'self'): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Connects, sends data, half-closes, and collects everything until the server's FIN. */
export function roundTrip(port: number, data: Uint8Array | string, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host }, () => {
      s.end(data);
    });
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** Opens a client and resolves once connected. */
export function connectClient(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.once('error', reject);
  });
}

export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}
