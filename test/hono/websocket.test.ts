/**
 * Hono's upgradeWebSocket through edgeloop's adapter (edgeloop/hono), driven
 * by the `ws` package: events in order, text and binary as Hono's Bun and Deno
 * adapters hand them over, close codes both ways, plain routes beside it,
 * onError, and the module form with two loops.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import WebSocket from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import { upgradeWebSocket, websocket } from '../../src/hono/index.js';
import { roundTrip, within, waitFor } from '../helpers.js';

type Message = { data: Buffer; binary: boolean };
/** A client whose messages queue from the first byte (one can arrive with the 101, before open resolves). */
interface Client {
  ws: WebSocket;
  next(): Promise<Message>;
}

function open(url: string): Promise<Client> {
  const queue: Message[] = [];
  const waiting: ((m: Message) => void)[] = [];
  const ws = new WebSocket(url);
  ws.on('message', (data: Buffer, binary: boolean) => {
    const m = { data, binary };
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const next = (): Promise<Message> => {
    const m = queue.shift();
    return m ? Promise.resolve(m) : within(5000, new Promise<Message>((resolve) => waiting.push(resolve)), 'a message');
  };
  return within(
    5000,
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, next }));
      ws.once('error', reject);
    }),
    'ws open',
  );
}

function closed(c: WebSocket): Promise<{ code: number; reason: string }> {
  return within(5000, new Promise((resolve) => c.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))), 'close');
}

describe('Hono upgradeWebSocket on edgeloop', () => {
  let server: HttpServer;
  const events: string[] = [];
  const errors: unknown[] = [];

  before(async () => {
    const app = new Hono();
    app.get('/', (c) => c.text('plain route'));
    app.get(
      '/ws',
      upgradeWebSocket((c) => {
        const who = c.req.query('who') ?? 'anon';
        return {
          onOpen(_e, ws) {
            events.push(`open ${who} ${ws.readyState} ${ws.url?.pathname}`);
            ws.send(`hello ${who}`);
          },
          onMessage(e, ws) {
            if (typeof e.data === 'string') {
              if (e.data === 'bye') return ws.close(4001, 'as asked');
              if (e.data === 'boom') throw new Error('handler failed');
              ws.send(`text:${e.data}`);
            } else {
              const bytes = new Uint8Array(e.data as ArrayBuffer);
              ws.send(bytes.reverse());
            }
          },
          onClose(e) {
            const ce = e as unknown as { code: number; reason: string };
            events.push(`close ${who} ${ce.code} ${ce.reason}`);
          },
          onError(e) {
            errors.push((e as Event & { error?: unknown }).error);
          },
        };
      }),
    );
    server = await serve({ port: 0, fetch: app.fetch, websocket });
  });

  after(() => server.stop({ timeout: 500 }));

  it('runs onOpen and onMessage, text as a string and binary as an ArrayBuffer', async () => {
    const { ws: c, next } = await open(`ws://127.0.0.1:${server.port}/ws?who=ann`);
    const first = next();
    assert.equal((await first).data.toString(), 'hello ann');
    const t = next();
    c.send('hi');
    const text = await t;
    assert.equal(text.data.toString(), 'text:hi');
    assert.equal(text.binary, false);
    const b = next();
    c.send(Buffer.from([1, 2, 3]));
    const bin = await b;
    assert.equal(bin.binary, true);
    assert.deepEqual([...bin.data], [3, 2, 1]);
    const done = closed(c);
    c.close(1000, 'done');
    assert.equal((await done).code, 1000);
    await waitFor(() => events.includes('close ann 1000 done'), 5000, 'onClose with the client code');
    assert.ok(events.includes('open ann 1 /ws'), events.join('; '));
  });

  it('closes from the server with the code and reason the route gives', async () => {
    const { ws: c, next } = await open(`ws://127.0.0.1:${server.port}/ws?who=bob`);
    await next();
    const done = closed(c);
    c.send('bye');
    assert.deepEqual(await done, { code: 4001, reason: 'as asked' });
  });

  it('hands a throwing handler to onError and keeps the socket', async () => {
    const { ws: c, next } = await open(`ws://127.0.0.1:${server.port}/ws?who=cy`);
    await next();
    c.send('boom');
    await waitFor(() => errors.length === 1, 5000, 'onError');
    assert.match(String(errors[0]), /handler failed/);
    const t = next();
    c.send('still here');
    assert.equal((await t).data.toString(), 'text:still here');
    c.terminate();
  });

  it('serves plain routes, and a plain GET on the WebSocket route falls through to 404', async () => {
    const home = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(await home.text(), 'plain route');
    const plain = await fetch(`http://127.0.0.1:${server.port}/ws`);
    assert.equal(plain.status, 404);
    await plain.arrayBuffer();
  });

  it('answers a malformed handshake with 400 and keeps serving', async () => {
    // No Sec-WebSocket-Key: fetch() cannot send Upgrade, so the bytes go raw.
    const reply = await roundTrip(server.port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.match(reply.toString('latin1'), /^HTTP\/1\.1 400 /);
    const { ws: c, next } = await open(`ws://127.0.0.1:${server.port}/ws?who=dee`);
    assert.equal((await next()).data.toString(), 'hello dee');
    c.terminate();
  });
});

describe('Hono upgradeWebSocket in an app module on two loops', () => {
  let server: HttpServer;
  before(async () => {
    server = await serve({ port: 0, loops: 2, module: new URL('./fixtures/ws-app.js', import.meta.url) });
  });
  after(() => server.stop({ timeout: 500 }));

  it('echoes on every connection, whichever loop takes it', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => open(`ws://127.0.0.1:${server.port}/ws`)));
    const replies = await Promise.all(
      clients.map((c, i) => {
        c.ws.send(`m${i}`);
        return c.next();
      }),
    );
    assert.deepEqual(
      replies.map((r) => r.data.toString()),
      clients.map((_c, i) => `echo: m${i}`),
    );
    for (const c of clients) c.ws.terminate();
    assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/`)).text(), 'hono home');
  });

  it('refuses a plain server context with a message that says what to do', async () => {
    const app = new Hono();
    app.get('/ws', upgradeWebSocket(() => ({})));
    const r = await app.fetch(new Request('http://x/ws', { headers: { upgrade: 'websocket' } }), undefined);
    assert.equal(r.status, 500);
  });
});
