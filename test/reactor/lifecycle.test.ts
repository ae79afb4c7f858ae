/**
 * TcpServer life cycle as a user meets it: handler modules that fail to load,
 * stop() racing listen(), stop() called twice. Every server started here is
 * stopped, every wait is bounded.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACCEPT_STRATEGIES, EventLoop, TcpServer, connect } from '../../src/reactor/index.js';
import { connectClient, fixture, freePort, roundTrip, sleep, waitFor, within } from '../helpers.js';

/** 'refused' when nothing accepts on the port, 'connected' when a listen socket is still there. */
function probe(port: number): Promise<'refused' | 'connected'> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: Error & { code?: string }) => (e.code === 'ECONNREFUSED' ? resolve('refused') : reject(e)));
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-modules-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
function moduleFile(name: string, source: string): URL {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return pathToFileURL(file);
}
const badModules = {
  'a syntax error': moduleFile('syntax.mjs', 'export default function setup( {\n'),
  'a throw at load': moduleFile('throws.mjs', 'throw new Error("refusing to load");\n'),
  'no setup export': moduleFile('empty.mjs', 'export const nothing = 1;\n'),
  'a setup that throws in one loop only': moduleFile(
    'one-loop-fails.mjs',
    'export default function setup(ctx) { if (ctx.index === 1) throw new Error("loop 1 refuses"); return {}; }\n',
  ),
};

test('a handler module that fails in a loop thread: clear error naming the module, and the port is released', async () => {
  for (const accept of ACCEPT_STRATEGIES) {
    for (const [what, url] of Object.entries(badModules)) {
      const port = await freePort();
      const server = new TcpServer({ port, loops: 2, accept, module: url });
      await within(10_000, assert.rejects(server.listen(), (e: Error) => {
        assert.ok(e.message.includes(url.href), `${accept}, ${what}: the error names the module: ${e.message}`);
        return true;
      }), `${accept}, ${what}: listen rejects`);
      // Nothing may still listen there: a connection would sit in an accept queue nobody serves.
      assert.equal(await within(2000, probe(port)), 'refused', `${accept}, ${what}: port ${port} still listening`);
      const again = new TcpServer({ port, loops: 1, handlers: {} });
      await again.listen();
      await again.stop();
    }
  }
});

test('stop() before listen() resolves: listen rejects, and nothing is left listening', async () => {
  for (const loops of [1, 2]) {
    const port = await freePort();
    const server = new TcpServer({ port, loops, module: fixture('echo.js') });
    const listening = server.listen();
    const stopped = server.stop({ timeout: 100 });
    await within(10_000, assert.rejects(listening, /stopped before it was listening/), `loops=${loops}: listen`);
    await within(10_000, stopped, `loops=${loops}: stop`);
    assert.equal(await within(2000, probe(port)), 'refused', `loops=${loops}: port ${port} still listening after stop()`);
    await server.stop(); // a no-op now
  }
});

test('stop() called twice: both promises resolve only once the server has stopped', async () => {
  for (const loops of [1, 2]) {
    const server = new TcpServer({
      port: 0,
      loops,
      module: fixture('echo.js'),
    });
    const { port } = await server.listen();
    // A peer that keeps its side open: only the stop timeout ends it.
    const s = await connectClient(port);
    s.on('error', () => {});
    s.on('end', () => {}); // stay half-open
    s.allowHalfOpen = true;
    await sleep(20);
    const shutdownCloses = (): number => server.stats().reduce((a, x) => a + x.closed.shutdown, 0);
    const first = server.stop({ timeout: 300 });
    const second = server.stop({ timeout: 300 });
    await within(10_000, second, `loops=${loops}: second stop`);
    // The second caller must not be told "stopped" while the first stop is still draining.
    assert.equal(shutdownCloses(), 1, `loops=${loops}: second stop() resolved before the connection was force-closed`);
    await within(10_000, first, `loops=${loops}: first stop`);
    assert.equal(await within(2000, probe(port)), 'refused', `loops=${loops}: still listening`);
    s.destroy();
  }
});

test('an empty host is an invalid host, for the server and the client alike', async () => {
  const server = new TcpServer({ port: 0, host: '', loops: 1, handlers: {} });
  await assert.rejects(server.listen(), (e: Error & { code?: string }) => /invalid host ''/.test(e.message) && e.code === 'EINVAL');
  await server.stop();
  const loop = new EventLoop();
  try {
    await assert.rejects(connect(loop, { host: '', port: 1 }), /invalid host ''/);
  } finally {
    loop.quit();
  }
});

test('a second reuseport server on a port another one holds is refused (EADDRINUSE), not silently let in', async () => {
  const a = new TcpServer({ port: 0, loops: 2, module: fixture('echo.js') });
  const { port } = await a.listen();
  try {
    for (const loops of [2, 1]) {
      const b = new TcpServer({ port, loops, module: fixture('echo.js') });
      await within(10_000, assert.rejects(b.listen(), (e: Error & { code?: string }) => e.code === 'EADDRINUSE'), `loops=${loops}`);
      await b.stop();
    }
    // the first server still has the port, with both of its loops accepting
    for (let i = 0; i < 20; i++) assert.equal((await within(5000, roundTrip(port, `x${i}`))).toString(), `x${i}`);
    await waitFor(() => a.stats().every((s) => s.accepted > 0), 2000, 'both loops accept');
  } finally {
    await a.stop();
  }
});
