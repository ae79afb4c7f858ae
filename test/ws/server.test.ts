/**
 * The WebSocket server API: both upgrade styles, the handshake's answers,
 * send statuses and backpressure, drain, pause/resume, timers, close and
 * server stop.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import type { ServerWebSocket, WebSocketBehavior } from '../../src/ws/index.js';
import { SendStatus } from '../../src/ws/index.js';
import { sleep, waitFor, within } from '../helpers.js';
import { closeFrame, frame, RawClient } from './raw.js';

function wsUrl(s: HttpServer, path = '/'): string {
  return `ws://127.0.0.1:${s.port}${path}`;
}

function open(url: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return within(
    5000,
    new Promise((resolve, reject) => {
      const c = new WebSocket(url, { perMessageDeflate: false, ...opts });
      c.once('open', () => resolve(c));
      c.once('error', reject);
    }),
    'ws open',
  );
}

function next(c: WebSocket): Promise<{ data: string | Buffer; binary: boolean }> {
  return within(
    5000,
    new Promise((resolve) => c.once('message', (d: Buffer, binary: boolean) => resolve({ data: binary ? d : d.toString(), binary }))),
    'a message',
  );
}

function closed(c: WebSocket): Promise<{ code: number; reason: string }> {
  return within(5000, new Promise((resolve) => c.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))), 'close');
}

async function withServer(websocket: WebSocketBehavior<any>, fn: (s: HttpServer) => Promise<void>): Promise<void> {
  const s = await serve({
    fetch(req, srv) {
      if (srv.upgrade(req, { data: { path: new URL(req.url).pathname }, headers: { 'X-Hello': 'there' } })) return;
      return new Response('plain http', { status: 200 });
    },
    websocket,
  });
  try {
    await fn(s);
  } finally {
    await s.stop({ timeout: 500 });
  }
}

describe('upgrade, web style (fetch + server.upgrade)', () => {
  it('echoes text as text and binary as binary; data and headers reach the socket', async () => {
    let seen: unknown;
    await withServer(
      {
        open(ws) {
          seen = ws.data;
        },
        message(ws, m) {
          ws.send(m);
        },
      },
      async (s) => {
        const c = await open(wsUrl(s, '/chat'));
        c.send('héllo');
        assert.deepEqual(await next(c), { data: 'héllo', binary: false });
        c.send(Buffer.from([1, 2, 3]));
        assert.deepEqual(await next(c), { data: Buffer.from([1, 2, 3]), binary: true });
        assert.deepEqual(seen, { path: '/chat' });
        c.close();
        await closed(c);
      },
    );
  });

  it('a plain request gets the handler\'s own Response; the 101 carries headers given to upgrade()', async () => {
    await withServer({ message() {} }, async (s) => {
      const r = await fetch(`${s.url}/page`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'plain http');
      const c = await RawClient.open(s.port, '/x');
      assert.match(c.head, /\r\nX-Hello: there\r\n/i);
      c.destroy();
    });
  });

  it('answers malformed handshakes with 400, a wrong version with 426 and Sec-WebSocket-Version: 13', async () => {
    await withServer({ message() {} }, async (s) => {
      const base = `Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
      const cases: [string, RegExp][] = [
        [`GET / HTTP/1.1\r\n${base}Sec-WebSocket-Version: 13\r\n\r\n`, /^HTTP\/1\.1 400 /],
        [`GET / HTTP/1.1\r\n${base}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n`, /^HTTP\/1\.1 400 /],
        [`GET / HTTP/1.1\r\n${base}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, /^HTTP\/1\.1 400 /],
        [`GET / HTTP/1.1\r\n${base}Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, /^HTTP\/1\.1 426 [^]*Sec-WebSocket-Version: 13/i],
        [`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, /^HTTP\/1\.1 400 /],
        [`POST / HTTP/1.1\r\n${base}Content-Length: 0\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, /^HTTP\/1\.1 400 /],
      ];
      for (const [req, want] of cases) {
        const c = await RawClient.connect(s.port);
        c.socket.write(req);
        await c.until(() => c.head !== '', 'an answer');
        assert.match(c.head, want, req);
        c.destroy();
      }
      // The RFC 6455 1.3 example key gives the RFC's accept value.
      const c = await RawClient.connect(s.port);
      c.socket.write(`GET / HTTP/1.1\r\n${base}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      await c.until(() => c.head !== '', 'the 101');
      assert.match(c.head, /^HTTP\/1\.1 101 [^]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
      c.destroy();
    });
  });

  it('selects the first subprotocol the server speaks from the client\'s offer', async () => {
    const s = await serve({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no')),
      websocket: { protocols: ['chat.v2', 'chat.v1'], open: (ws) => void ws.send(ws.protocol) },
    });
    try {
      const c = await open(wsUrl(s), { protocol: undefined } as WebSocket.ClientOptions);
      c.close();
      const c2 = new WebSocket(wsUrl(s), ['chat.v1', 'chat.v2'], { perMessageDeflate: false });
      const m = await next(c2);
      assert.equal(m.data, 'chat.v2');
      assert.equal(c2.protocol, 'chat.v2');
      c2.close();
      await closed(c2);
    } finally {
      await s.stop({ timeout: 500 });
    }
  });
});

describe('upgrade, native style (handler + res.upgrade)', () => {
  it('res.upgrade(data) opens the socket; a plain request is answered by the handler', async () => {
    const s = await serve({
      handler(req, res) {
        if (req.path === '/ws') {
          if (!res.upgrade({ user: 'ann' }) && !res.finished) res.status(426).setHeader('Upgrade', 'websocket').end('WebSocket only\n');
          return;
        }
        res.end('page');
      },
      websocket: {
        message(ws: ServerWebSocket<{ user: string }>, m) {
          ws.send(`${ws.data.user}: ${String(m)}`);
        },
      },
    });
    try {
      const c = await open(wsUrl(s, '/ws'));
      c.send('hi');
      assert.equal((await next(c)).data, 'ann: hi');
      c.close();
      await closed(c);
      const r = await fetch(`${s.url}/ws`);
      assert.equal(r.status, 426);
      assert.equal(await (await fetch(`${s.url}/`)).text(), 'page');
    } finally {
      await s.stop({ timeout: 500 });
    }
  });

  it('frames sent right behind the handshake (before the 101 arrives) are not lost', async () => {
    await withServer({ message: (ws, m) => void ws.send(m) }, async (s) => {
      const c = await RawClient.connect(s.port);
      c.socket.write(
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      c.socket.write(Buffer.concat([frame({ op: 1, payload: 'early' }), frame({ op: 1, payload: 'bird' })]));
      await c.frameAt(1);
      assert.deepEqual(
        c.frames.map((f) => f.payload.toString()),
        ['early', 'bird'],
      );
      c.destroy();
    });
  });
});

describe('messages handed to the handler', () => {
  it('messages pipelined in one read arrive whole and stay valid after the handler returns (binary is a private copy)', async () => {
    const kept: Array<string | Buffer> = [];
    const text = ['a', 'héllo', 'x'.repeat(300), '日本語'.repeat(50), ''];
    const binary = [Buffer.from([1, 2, 3]), Buffer.alloc(200, 7), Buffer.alloc(0)];
    await withServer({ message: (_ws, m) => void kept.push(m) }, async (s) => {
      const c = await RawClient.open(s.port);
      // One write: every frame lands in the same read buffer, which the next read overwrites.
      c.send(...text.map((t) => frame({ op: 1, payload: t })), ...binary.map((b) => frame({ op: 2, payload: b })));
      await waitFor(() => kept.length === text.length + binary.length, 5000, 'the first batch');
      // The next read reuses the read buffer: what the handler kept must not change.
      c.send(frame({ op: 2, payload: Buffer.alloc(64, 0xee) }), frame({ op: 1, payload: 'later' }));
      await waitFor(() => kept.length === text.length + binary.length + 2, 5000, 'all messages');
      assert.deepEqual(kept, [...text, ...binary, Buffer.alloc(64, 0xee), 'later']);
      c.destroy();
    });
  });

  it('invalid UTF-8 in a short and in a long pipelined text message closes with 1007', async () => {
    for (const bad of [Buffer.from([0x61, 0xff]), Buffer.concat([Buffer.alloc(200, 0x61), Buffer.from([0xed, 0xa0, 0x80])])]) {
      const got: Array<string | Buffer> = [];
      await withServer({ message: (_ws, m) => void got.push(m) }, async (s) => {
        const c = await RawClient.open(s.port);
        c.send(frame({ op: 1, payload: 'ok' }), frame({ op: 1, payload: bad }), frame({ op: 1, payload: 'never' }));
        assert.equal((await c.closed()).code, 1007);
        assert.deepEqual(got, ['ok']);
        c.destroy();
      });
    }
  });
});

describe('send, backpressure and drain', () => {
  it('send() says sent, then BACKPRESSURE, then DROPPED past maxBackpressure; drain follows when the client reads', async () => {
    const statuses: number[] = [];
    let drains = 0;
    let sock: ServerWebSocket | undefined;
    const chunk = Buffer.alloc(64 * 1024, 7);
    await withServer(
      {
        maxBackpressure: 256 * 1024,
        open(ws) {
          sock = ws;
        },
        drain() {
          drains++;
        },
      },
      async (s) => {
        const c = await RawClient.open(s.port);
        c.socket.pause(); // the client stops reading
        await waitFor(() => sock !== undefined);
        for (let i = 0; i < 400; i++) {
          statuses.push(sock!.send(chunk));
          await new Promise((r) => setImmediate(r));
          if (statuses.at(-1) === SendStatus.DROPPED) break;
        }
        assert.ok(statuses[0]! > 0, 'the first send goes straight to the kernel');
        assert.ok(statuses.includes(SendStatus.BACKPRESSURE), 'then sends queue');
        assert.equal(statuses.at(-1), SendStatus.DROPPED, 'and past the limit they are dropped');
        assert.ok(sock!.bufferedAmount > 0 && sock!.bufferedAmount <= 256 * 1024);
        assert.equal(drains, 0);
        c.socket.resume();
        await waitFor(() => drains === 1, 5000, 'drain');
        assert.ok(sock!.bufferedAmount <= 64 * 1024);
        c.destroy();
      },
    );
  });

  it('closeOnBackpressureLimit closes the socket instead of dropping', async () => {
    let sock: ServerWebSocket | undefined;
    let code = 0;
    await withServer(
      {
        maxBackpressure: 64 * 1024,
        closeOnBackpressureLimit: true,
        open(ws) {
          sock = ws;
        },
        close(_ws, c) {
          code = c;
        },
      },
      async (s) => {
        const c = await RawClient.open(s.port);
        c.socket.pause();
        await waitFor(() => sock !== undefined);
        for (let i = 0; i < 1000 && sock!.readyState === 1; i++) {
          sock!.send(Buffer.alloc(32 * 1024));
          await new Promise((r) => setImmediate(r));
        }
        await waitFor(() => code !== 0, 5000, 'close');
        assert.equal(code, 1006);
        assert.equal(sock!.send('late'), SendStatus.DROPPED);
        c.destroy();
      },
    );
  });
});

describe('input control', () => {
  it('pause() stops messages until resume(); nothing is lost', async () => {
    const got: string[] = [];
    let sock: ServerWebSocket | undefined;
    await withServer(
      {
        message(ws, m) {
          got.push(String(m));
          if (got.length === 1) {
            sock = ws;
            ws.pause();
          }
        },
      },
      async (s) => {
        const c = await RawClient.open(s.port);
        c.send(frame({ op: 1, payload: 'a' }), frame({ op: 1, payload: 'b' }));
        await waitFor(() => sock !== undefined);
        c.send(frame({ op: 1, payload: 'c' }));
        await sleep(100);
        assert.deepEqual(got, ['a']);
        assert.equal(sock!.isPaused, true);
        sock!.resume();
        await waitFor(() => got.length === 3, 5000, 'the held messages');
        assert.deepEqual(got, ['a', 'b', 'c']);
        c.destroy();
      },
    );
  });
});

describe('timers', () => {
  it('a quiet client is pinged at half the idleTimeout; one that never answers is closed with 1001', async () => {
    await withServer({ idleTimeout: 0.4 }, async (s) => {
      const c = await RawClient.open(s.port);
      const got = await c.closed(5000);
      assert.ok(c.frames.some((f) => f.op === 9), 'a ping came first');
      assert.equal(got.code, 1001);
    });
  });

  it('a client that answers pings stays open past idleTimeout', async () => {
    await withServer({ idleTimeout: 0.3 }, async (s) => {
      const c = await open(wsUrl(s)); // ws answers pings by itself
      let ended = false;
      c.on('close', () => (ended = true));
      await sleep(900);
      assert.equal(ended, false);
      c.close();
      await closed(c);
    });
  });

  it('close() waits for the peer\'s close frame at most closeTimeout, then cuts the connection', async () => {
    let code = 0;
    await withServer(
      {
        closeTimeout: 0.3,
        open(ws) {
          ws.close(4001, 'go');
        },
        close(_ws, c) {
          code = c;
        },
      },
      async (s) => {
        const c = await RawClient.open(s.port); // never answers the close
        const got = await c.closed(5000);
        assert.equal(got.code, 4001);
        assert.equal(got.reason, 'go');
        await waitFor(() => code !== 0);
        assert.equal(code, 4001);
      },
    );
  });
});

describe('close', () => {
  it('close(code, reason) reaches the client; the close handler runs once with the code', async () => {
    const codes: number[] = [];
    await withServer(
      {
        message(ws) {
          ws.close(4321, 'done');
        },
        close(_ws, code, reason) {
          codes.push(code);
          assert.equal(reason, 'done');
        },
      },
      async (s) => {
        const c = await open(wsUrl(s));
        c.send('x');
        assert.deepEqual(await closed(c), { code: 4321, reason: 'done' });
        await waitFor(() => codes.length === 1);
        await sleep(50);
        assert.deepEqual(codes, [4321]);
      },
    );
  });

  it('refuses invalid close codes and long reasons', async () => {
    await withServer(
      {
        open(ws) {
          assert.throws(() => ws.close(1005), RangeError);
          assert.throws(() => ws.close(999), RangeError);
          assert.throws(() => ws.close(1000, 'x'.repeat(124)), RangeError);
          ws.send('checked');
        },
      },
      async (s) => {
        const c = new WebSocket(wsUrl(s), { perMessageDeflate: false });
        assert.equal((await next(c)).data, 'checked'); // sent in open: the listener must be there first
        c.terminate();
      },
    );
  });

  it('terminate() and a dropped TCP connection report 1006', async () => {
    const codes: number[] = [];
    await withServer(
      {
        message(ws, m) {
          if (m === 'kill') ws.terminate();
        },
        close(_ws, code) {
          codes.push(code);
        },
      },
      async (s) => {
        const a = await open(wsUrl(s));
        a.send('kill');
        assert.equal((await closed(a)).code, 1006);
        const b = await RawClient.open(s.port);
        b.destroy();
        await waitFor(() => codes.length === 2);
        assert.deepEqual(codes, [1006, 1006]);
      },
    );
  });

  it('stopping the server closes open sockets with 1001', async () => {
    const s = await serve({ fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('')), websocket: {} });
    const c = await open(wsUrl(s));
    const done = closed(c);
    await s.stop({ timeout: 2000 });
    assert.equal((await done).code, 1001);
  });

  it('a close frame from the client is echoed; the handler gets its code and reason', async () => {
    let got: [number, string] | undefined;
    await withServer(
      {
        close(_ws, code, reason) {
          got = [code, reason];
        },
      },
      async (s) => {
        const c = await RawClient.open(s.port);
        c.send(closeFrame(3003, 'client leaving'));
        assert.equal((await c.closed()).code, 3003);
        await waitFor(() => got !== undefined);
        assert.deepEqual(got, [3003, 'client leaving']);
      },
    );
  });
});

describe('options', () => {
  it('serve() refuses bad websocket options with what to do', async () => {
    await assert.rejects(serve({ handler: () => {}, websocket: { idleTimeout: -1 } }), /idleTimeout must be a number of seconds/);
    await assert.rejects(serve({ handler: () => {}, websocket: { compression: 'yes' as never } }), /compression must be false, 'shared' or 'dedicated'/);
    await assert.rejects(serve({ handler: () => {}, websocket: { maxBackpressure: 10 } }), /maxBackpressure/);
    await assert.rejects(serve({ module: new URL('./fixtures/pubsub-app.js', import.meta.url), websocket: {} }), /export them from the module/);
  });

  it('res.upgrade() on a server without websocket handlers says how to add them', async () => {
    let err: unknown;
    const s = await serve({
      handler(_req, res) {
        try {
          res.upgrade();
        } catch (e) {
          err = e;
        }
        res.end('x');
      },
    });
    try {
      await fetch(s.url);
      assert.match(String(err), /no WebSocket handlers/);
    } finally {
      await s.stop();
    }
  });
});

describe('more', () => {
  it('close() on a paused socket still reads the peer\'s close frame (no wait for closeTimeout)', async () => {
    let closedAt = 0;
    let addr = '';
    await withServer(
      {
        closeTimeout: 30,
        message(ws) {
          ws.pause();
          ws.close(1000, 'paused and closing');
        },
        close(ws) {
          closedAt = Date.now();
          addr = ws.remoteAddress;
        },
      },
      async (s) => {
        const c = await open(wsUrl(s));
        const start = Date.now();
        c.send('x');
        assert.equal((await closed(c)).code, 1000);
        await waitFor(() => closedAt !== 0, 5000, 'the close handler');
        assert.ok(closedAt - start < 10_000, 'closed by the handshake, not by the 30 s closeTimeout');
        assert.equal(addr, '127.0.0.1', 'remoteAddress is still there in close');
      },
    );
  });

  it('a publish dropped for a slow subscriber runs the dropped handler with the message', async () => {
    const dropped: number[] = [];
    let pub: ServerWebSocket | undefined;
    await withServer(
      {
        maxBackpressure: 64 * 1024,
        open(ws) {
          ws.subscribe('t');
          pub ??= ws;
        },
        dropped(_ws, m) {
          dropped.push(m.length);
        },
      },
      async (s) => {
        const slow = await RawClient.open(s.port);
        slow.socket.pause();
        await waitFor(() => pub !== undefined);
        for (let i = 0; i < 300 && dropped.length === 0; i++) {
          s.publish('t', Buffer.alloc(16 * 1024));
          await new Promise((r) => setImmediate(r));
        }
        assert.ok(dropped.length > 0, 'some publish was dropped and reported');
        assert.equal(dropped[0], 16 * 1024);
        slow.destroy();
      },
    );
  });
});

describe('stop', () => {
  it('an upgrade that comes after stop() began is answered 503, not left to the stop timeout', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let result: boolean | undefined;
    const s = await serve({
      async handler(_req, res) {
        await gate;
        result = res.upgrade();
      },
      websocket: {},
    });
    const c = await RawClient.connect(s.port);
    c.socket.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await sleep(50);
    const stopped = s.stop({ timeout: 5000 });
    await sleep(20);
    release();
    await c.until(() => c.head !== '', 'the answer');
    assert.match(c.head, /^HTTP\/1\.1 503 /);
    assert.equal(result, false);
    await stopped;
    c.destroy();
  });
});
