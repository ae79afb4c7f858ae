/**
 * Timeouts, backpressure and big bodies over real sockets: slowloris gets a
 * 408, idle keep-alive connections close, a request in flight is never cut,
 * a client that reads nothing pauses the writer (memory stays bounded), a
 * 10 MiB chunked upload streams through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { serve, type Handler, type HttpServer, type ServeOptions } from '../../src/http/index.js';
import { handler as demo } from '../../src/http/demo.js';
import { waitFor } from '../helpers.js';
import { exchange, openSocket, parseResponses, request1 } from './wire.js';

const H = 'Host: t\r\n';

async function withServer(opts: Partial<ServeOptions> & ({ handler: Handler } | object), fn: (s: HttpServer) => Promise<void>): Promise<void> {
  const s = await serve({ port: 0, handler: demo, ...opts } as ServeOptions);
  try {
    await fn(s);
  } finally {
    await s.stop({ timeout: 2000 });
  }
}

const fast = { headersTimeout: 300, bodyTimeout: 300, keepAliveTimeout: 300 };

test('slowloris: a head that never completes gets 408 and a close, even while bytes keep dripping', async () => {
  await withServer(fast, async (s) => {
    const c = await openSocket(s.port);
    c.sock.write('GET /hello HTTP/1.1\r\nHost: t\r\n');
    // Drip a header byte at a time: progress must not extend the headers deadline.
    const drip = setInterval(() => {
      if (!c.isClosed()) c.sock.write('X');
    }, 30);
    try {
      await c.closed();
    } finally {
      clearInterval(drip);
    }
    const r = parseResponses(c.received()).responses;
    assert.equal(r[0]?.status, 408);
    assert.equal(r[0]?.get('connection'), 'close');
  });
});

test('a connection that sends nothing is closed silently; an idle keep-alive one too', async () => {
  await withServer(fast, async (s) => {
    const silent = await openSocket(s.port);
    await silent.closed();
    assert.equal(silent.received().length, 0);

    const idle = await openSocket(s.port);
    idle.sock.write(`GET /hello HTTP/1.1\r\n${H}\r\n`);
    await idle.until((b) => parseResponses(b).responses.length === 1);
    const n = idle.received().length;
    await idle.closed();
    assert.equal(idle.received().length, n, 'nothing after the response: a silent close');
    const st = s.stats()[0]!;
    assert.ok(st.closed.timeout >= 2, `closed by timeout: ${st.closed.timeout}`);
  });
});

test('a body that stalls gets 408', async () => {
  await withServer(fast, async (s) => {
    const ex = await exchange(s.port, `POST /echo HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nonly some bytes`);
    assert.equal(ex.responses[0]?.status, 408);
    assert.equal(ex.closed, true);
  });
});

test('a request in flight is never cut by the idle, header or body timers', async () => {
  await withServer(fast, async (s) => {
    const r = await request1(s.port, `GET /delay?ms=1200 HTTP/1.1\r\n${H}\r\n`, { timeout: 8000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'waited 1200 ms\n');
    assert.equal(r.closed, false);
  });
});

test('a slow client that reads nothing pauses the writer: output stays bounded, then everything arrives', async () => {
  const state = { written: 0, pausedAt: -1, resolvePaused: (_n: number) => {} };
  const paused = new Promise<number>((r) => (state.resolvePaused = r));
  const total = 256 * 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const produce: Handler = async (_req, res) => {
    res.setHeader('Content-Length', total);
    while (state.written < total) {
      state.written += chunk.length;
      if (!res.write(chunk)) {
        if (state.pausedAt < 0) {
          state.pausedAt = state.written;
          state.resolvePaused(state.written);
        }
        await res.drain();
      }
    }
    res.end();
  };
  await withServer({ handler: produce }, async (s) => {
    // A plain socket: the helper's accumulating reader would copy 256 MiB over and over.
    const sock = net.connect({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    const c = { sock };
    c.sock.pause(); // read nothing: the kernel buffers fill, then the server's queue, then the writer waits
    c.sock.write(`GET /big HTTP/1.1\r\n${H}\r\n`);
    const at = await paused;
    // Give the writer every chance to overrun; it must stay parked on drain().
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(at < 64 * 1024 * 1024, `writer paused only after ${at} bytes`);
    assert.ok(state.written < 64 * 1024 * 1024, `writer kept going to ${state.written} bytes while the client read nothing`);
    let got = 0;
    const headEnd = new Promise<void>((resolve) => {
      c.sock.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= total) resolve();
      });
    });
    c.sock.resume();
    await headEnd;
    assert.equal(state.written, total);
    c.sock.destroy();
  });
});

test('pipelined requests from a client that does not read: parsing stops, nothing is lost', async () => {
  let handled = 0;
  const big = new Uint8Array(1024 * 1024).fill(0x62);
  const h: Handler = (_req, res) => {
    handled++;
    res.end(big);
  };
  await withServer({ handler: h }, async (s) => {
    const sock = net.connect({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    const c = { sock };
    c.sock.pause();
    const n = 200;
    c.sock.write(`GET /x HTTP/1.1\r\n${H}\r\n`.repeat(n));
    // Wait until the server stops making progress (no timing assertion: just a settle loop).
    let last = -1;
    for (let i = 0; i < 50 && handled !== last; i++) {
      last = handled;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(handled < n, `the server answered all ${n} requests into a client that reads nothing (${handled})`);
    let bytes = 0;
    const expected = n * (big.length + 40); // a lower bound: bodies plus a head each
    const done = new Promise<void>((resolve) =>
      c.sock.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes >= expected) resolve();
      }),
    );
    c.sock.resume();
    await done;
    assert.equal(handled, n);
    c.sock.destroy();
  });
});

test('chunked upload of 10 MiB streams through /echo and back', async () => {
  await withServer({ limits: { maxBodyBytes: 64 * 1024 * 1024 } }, async (s) => {
    const c = await openSocket(s.port);
    const size = 10 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024);
    const hash = createHash('sha256');
    c.sock.write(`POST /echo HTTP/1.1\r\n${H}Content-Type: application/x-test\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let off = 0, i = 0; off < size; off += piece.length, i++) {
      piece.fill(i & 0xff);
      hash.update(piece);
      const ok = c.sock.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
      if (!ok) await new Promise((r) => c.sock.once('drain', r));
    }
    c.sock.write('0\r\n\r\n');
    await c.until((b) => parseResponses(b).responses.length === 1, 30000);
    const r = parseResponses(c.received()).responses[0]!;
    assert.equal(r.status, 200);
    assert.equal(r.get('content-type'), 'application/x-test');
    assert.equal(r.get('transfer-encoding'), 'chunked');
    assert.equal(r.body.length, size);
    assert.equal(createHash('sha256').update(r.body).digest('hex'), hash.digest('hex'));
    c.sock.destroy();
  });
});

test('a 10 MiB Content-Length body collected with req.bytes() arrives intact', async () => {
  const h: Handler = async (req, res) => {
    const b = await req.bytes();
    res.end(createHash('sha256').update(b).digest('hex'));
  };
  await withServer({ handler: h, limits: { maxBodyBytes: 16 * 1024 * 1024 } }, async (s) => {
    const body = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const r = await fetch(`${s.url}/`, { method: 'POST', body });
    assert.equal(await r.text(), createHash('sha256').update(body).digest('hex'));
  });
});

test('many connections opened and dropped mid-request leave nothing behind', async () => {
  await withServer({}, async (s) => {
    const partials = [
      'GET /hel',
      `GET /hello HTTP/1.1\r\n${H}`,
      `POST /echo HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`,
      `POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nab`,
      `GET /delay?ms=50 HTTP/1.1\r\n${H}\r\n`,
    ];
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        partials.map(async (p) => {
          const c = await openSocket(s.port);
          c.sock.write(p);
          await new Promise((r) => setTimeout(r, 5));
          c.sock.destroy();
        }),
      );
    }
    assert.equal((await request1(s.port, `GET /hello HTTP/1.1\r\n${H}\r\n`)).status, 200);
    for (let i = 0; i < 100 && s.stats()[0]!.active > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.stats()[0]!.active, 0);
  });
});

test('maxRequestsPerConnection: the last allowed response says close, later requests are not served', async () => {
  await withServer({ maxRequestsPerConnection: 2 }, async (s) => {
    const ex = await exchange(s.port, `GET /hello HTTP/1.1\r\n${H}\r\n`.repeat(3));
    assert.equal(ex.responses.length, 2);
    assert.equal(ex.responses[0]!.get('connection'), undefined);
    assert.equal(ex.responses[1]!.get('connection'), 'close');
    assert.equal(ex.closed, true);
  });
});

test('a finished response still queued for a slow reader is not cut by the keep-alive timer', async () => {
  const size = 16 * 1024 * 1024;
  // A high-water mark above the size: the handler ends at once, with most of the body still queued.
  await withServer({ ...fast, writeHighWaterMark: 64 * 1024 * 1024 }, async (s) => {
    const sock = net.connect({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    sock.write(`GET /bytes?n=${size} HTTP/1.1\r\n${H}\r\n`);
    // Read nothing for longer than every timeout of this server.
    await new Promise((r) => setTimeout(r, 1000));
    let got = 0;
    const done = new Promise<boolean>((resolve) => {
      sock.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= size) resolve(true);
      });
      sock.on('close', () => resolve(false));
    });
    sock.resume();
    assert.equal(await done, true, `connection cut after ${got} of ${size} bytes`);
    sock.destroy();
  });
});

test('a client that stops reading for good is closed after sendTimeout', async () => {
  await withServer({ ...fast, sendTimeout: 400 }, async (s) => {
    const sock = net.connect({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    sock.write(`GET /bytes?n=${256 * 1024 * 1024} HTTP/1.1\r\n${H}\r\n`);
    for (let i = 0; i < 100 && s.stats()[0]!.closed.timeout === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.stats()[0]!.closed.timeout, 1);
    sock.destroy();
  });
});

test('req.signal: aborted when the client resets mid-response or a chunked body turns malformed; never after the response', async () => {
  const seen: string[] = [];
  let done = 0;
  const handler: Handler = async (req, res) => {
    req.signal.addEventListener('abort', () => seen.push(`abort ${req.path}`));
    if (req.path === '/upload') {
      await req.bytes().catch(() => undefined);
      done++;
      return;
    }
    if (req.path === '/stream') {
      res.write('first;'); // streaming, then waiting on something slow
      await new Promise((r) => setTimeout(r, 2000));
    }
    res.end('ok');
    done++;
  };
  await withServer({ handler }, async (s) => {
    const c = await openSocket(s.port);
    c.sock.write(`GET /stream HTTP/1.1\r\n${H}\r\n`);
    await c.until((b) => b.includes('first;'));
    c.sock.resetAndDestroy();
    await waitFor(() => seen.includes('abort /stream'), 2000, 'the streaming request aborted');
    const bad = await exchange(s.port, `POST /upload HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`);
    assert.equal(bad.responses[0]?.status, 400);
    await waitFor(() => seen.includes('abort /upload'), 2000, 'the malformed upload aborted');
    const r = await request1(s.port, `GET /plain HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    assert.equal(r.body.toString(), 'ok');
    await waitFor(() => done >= 2, 2000, 'handlers finished');
    assert.deepEqual(seen.sort(), ['abort /stream', 'abort /upload']);
  });
});

test('body chunks: any ArrayBufferView or ArrayBuffer is sent as its bytes; anything else is a TypeError, never a silent drop', async () => {
  const errors: unknown[] = [];
  const abcd = (): Uint16Array => new Uint16Array(new Uint8Array([0x41, 0x42, 0x43, 0x44]).buffer); // 2 elements, 4 bytes
  const handler: Handler = (req, res) => {
    switch (req.path) {
      case '/end-u16':
        return res.end(abcd());
      case '/end-arraybuffer':
        return res.end(new TextEncoder().encode('ab').buffer);
      case '/write-views':
        res.write(abcd());
        res.write(new DataView(new TextEncoder().encode('-dv').buffer));
        return res.end(new Float32Array(1)); // 4 zero bytes
      case '/end-number':
        return res.end(42 as unknown as string);
      case '/write-object':
        res.write('ok so far;');
        res.write({ length: 3 } as unknown as Uint8Array);
        return res.end();
      default:
        return res.end();
    }
  };
  await withServer({ handler, onError: (e) => errors.push(e) }, async (s) => {
    const u16 = await request1(s.port, `GET /end-u16 HTTP/1.1\r\n${H}\r\n`);
    assert.equal(u16.get('content-length'), '4');
    assert.equal(u16.body.toString('latin1'), 'ABCD');
    const ab = await request1(s.port, `GET /end-arraybuffer HTTP/1.1\r\n${H}\r\n`);
    assert.equal(ab.get('content-length'), '2');
    assert.equal(ab.body.toString('latin1'), 'ab');
    const views = await request1(s.port, `GET /write-views HTTP/1.1\r\n${H}\r\n`);
    assert.equal(views.body.toString('latin1'), 'ABCD-dv\0\0\0\0');
    const num = await request1(s.port, `GET /end-number HTTP/1.1\r\n${H}\r\n`);
    assert.equal(num.status, 500);
    // Mid-body: the response cannot turn into a 500 any more, so the connection is cut (no clean end).
    const obj = await exchange(s.port, `GET /write-object HTTP/1.1\r\n${H}\r\n`);
    assert.equal(obj.closed, true);
    assert.equal(obj.responses.length, 0, 'a cut chunked response never looks complete');
    assert.ok(obj.raw.toString('latin1').includes('ok so far;'));
    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof TypeError));
  });
});
