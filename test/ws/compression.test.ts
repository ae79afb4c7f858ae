/**
 * permessage-deflate (RFC 7692), modelled on Autobahn sections 12-13:
 * negotiation of each parameter, echo of many sizes in both modes (shared
 * per-loop context, dedicated per-connection context), and the limits: a
 * decompression bomb closes with 1009, broken compressed data with 1007.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { serve, type HttpServer } from '../../src/http/index.js';
import type { CompressionMode } from '../../src/ws/index.js';
import { waitFor, within } from '../helpers.js';
import { frame, RawClient } from './raw.js';

async function withServer(compression: CompressionMode, fn: (s: HttpServer) => Promise<void>, maxPayloadLength = 1 << 20): Promise<void> {
  const s = await serve({
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('ws', { status: 426 })),
    websocket: { compression, maxPayloadLength, message: (ws, m) => void ws.send(m) },
  });
  try {
    await fn(s);
  } finally {
    await s.stop({ timeout: 500 });
  }
}

/** A ws client and the Sec-WebSocket-Extensions the server answered ('' for none). */
function client(s: HttpServer, pmd: WebSocket.PerMessageDeflateOptions | false): Promise<WebSocket & { answered: string }> {
  return within(
    5000,
    new Promise((resolve, reject) => {
      const c = new WebSocket(`ws://127.0.0.1:${s.port}/`, { perMessageDeflate: pmd === false ? false : { threshold: 0, ...pmd } }) as WebSocket & { answered: string };
      c.answered = '';
      c.once('upgrade', (res) => (c.answered = String(res.headers['sec-websocket-extensions'] ?? '')));
      c.once('open', () => resolve(c));
      c.once('error', reject);
    }),
    'open',
  );
}

/** A server frame's text, inflated when RSV1 says it is compressed. */
function text(f: { rsv: number; payload: Buffer }): string {
  if (f.rsv !== 4) return f.payload.toString();
  return zlib.inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
}

/** Sends each message and checks every echo, in order. */
async function echoAll(c: WebSocket, messages: (string | Buffer)[]): Promise<void> {
  const got: (string | Buffer)[] = [];
  c.on('message', (d: Buffer, binary: boolean) => got.push(binary ? d : d.toString()));
  for (const m of messages) c.send(m);
  await waitFor(() => got.length === messages.length, 10_000, `${messages.length} echoes`);
  messages.forEach((m, i) => assert.deepEqual(got[i], m, `message ${i}`));
}

const sizes = [0, 16, 64, 125, 126, 1000, 4096, 65535, 65536, 256 * 1024];
function corpus(): (string | Buffer)[] {
  const out: (string | Buffer)[] = [];
  for (const n of sizes) {
    out.push('The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(n / 45)).slice(0, n));
    out.push(randomBytes(n)); // incompressible
    out.push(Buffer.alloc(n, n & 0xff));
  }
  return out;
}

for (const mode of ['shared', 'dedicated'] as const) {
  describe(`compression: '${mode}'`, () => {
    it('12.x negotiates permessage-deflate with a default offer and echoes text and binary of many sizes', async () => {
      await withServer(mode, async (s) => {
        const c = await client(s, {});
        assert.match(c.answered, /permessage-deflate/);
        if (mode === 'shared') assert.match(c.answered, /server_no_context_takeover; client_no_context_takeover/);
        await echoAll(c, corpus());
        c.close();
      });
    });

    it('13.x honours server_no_context_takeover, client_no_context_takeover and server_max_window_bits', async () => {
      for (const pmd of [
        { serverNoContextTakeover: true },
        { clientNoContextTakeover: true },
        { serverMaxWindowBits: 9 },
        { serverMaxWindowBits: 12, clientMaxWindowBits: 10 },
        { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15 },
      ] satisfies WebSocket.PerMessageDeflateOptions[]) {
        await withServer(mode, async (s) => {
          const c = await client(s, pmd);
          assert.match(c.answered, /permessage-deflate/, JSON.stringify(pmd));
          if (pmd.serverMaxWindowBits !== undefined) assert.match(c.answered, new RegExp(`server_max_window_bits=${pmd.serverMaxWindowBits}`));
          await echoAll(c, corpus().slice(0, 21));
          c.close();
        });
      }
    });

    it('a client without compression gets none', async () => {
      await withServer(mode, async (s) => {
        const c = await client(s, false);
        assert.equal(c.answered, '');
        await echoAll(c, ['plain', Buffer.alloc(3000, 1)]);
        c.close();
      });
    });
  });
}

describe('compression limits', () => {
  const offer = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n';
  function deflated(data: Buffer): Buffer {
    const d = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return d.subarray(0, d.length - 4); // without 00 00 ff ff (RFC 7692 7.2.1)
  }

  it('a decompression bomb (a few KiB inflating past maxPayloadLength) closes with 1009', async () => {
    await withServer(
      'shared',
      async (s) => {
        const c = await RawClient.open(s.port, '/', offer);
        assert.match(c.head, /permessage-deflate/);
        const bomb = deflated(Buffer.alloc(64 * 1024 * 1024));
        assert.ok(bomb.length < 128 * 1024);
        c.send(frame({ op: 2, rsv: 4, payload: bomb }));
        assert.equal((await c.closed()).code, 1009);
        // and the server still serves
        const d = await RawClient.open(s.port, '/', offer);
        d.send(frame({ op: 1, rsv: 4, payload: deflated(Buffer.from('after the bomb')) }));
        const f = await d.frameAt(0);
        assert.equal(text(f), 'after the bomb');
        d.destroy();
      },
      1 << 20,
    );
  });

  it('broken compressed data closes with 1007; RSV1 on a continuation with 1002; compressed invalid UTF-8 with 1007', async () => {
    await withServer('dedicated', async (s) => {
      const a = await RawClient.open(s.port, '/', offer);
      a.send(frame({ op: 2, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]) }));
      assert.equal((await a.closed()).code, 1007);
      const b = await RawClient.open(s.port, '/', offer);
      b.send(frame({ op: 1, rsv: 4, fin: false, payload: deflated(Buffer.from('a')) }), frame({ op: 0, rsv: 4, payload: Buffer.alloc(1) }));
      assert.equal((await b.closed()).code, 1002);
      const c = await RawClient.open(s.port, '/', offer);
      c.send(frame({ op: 1, rsv: 4, payload: deflated(Buffer.from([0xc0, 0x80])) }));
      assert.equal((await c.closed()).code, 1007);
    });
  });

  it('a compressed message split into fragments is inflated whole', async () => {
    await withServer('shared', async (s) => {
      const c = await RawClient.open(s.port, '/', offer);
      const z = deflated(Buffer.from('fragmented and compressed '.repeat(20)));
      const cut = z.length >> 1;
      c.send(frame({ op: 1, rsv: 4, fin: false, payload: z.subarray(0, cut) }), frame({ op: 9, payload: 'p' }), frame({ op: 0, payload: z.subarray(cut) }));
      const f = await c.frameAt(1);
      assert.equal(text(f), 'fragmented and compressed '.repeat(20));
      c.destroy();
    });
  });

  it("'shared': a published message is compressed once and reaches every subscriber intact", async () => {
    const s = await serve({
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('ws', { status: 426 })),
      websocket: { compression: 'shared', open: (ws) => ws.subscribe('news') },
    });
    try {
      const withDeflate = [await RawClient.open(s.port, '/', offer), await RawClient.open(s.port, '/', offer)];
      const plain = await RawClient.open(s.port, '/');
      const msg = 'compressible news item; '.repeat(50);
      assert.ok(s.publish('news', msg) > 0);
      for (const c of withDeflate) {
        const f = await c.frameAt(0);
        assert.equal(f.rsv, 4, 'compressed');
        assert.ok(f.payload.length < msg.length / 4);
        assert.equal(text(f), msg);
      }
      const p = await plain.frameAt(0);
      assert.equal(p.rsv, 0);
      assert.equal(p.payload.toString(), msg);
      for (const c of [...withDeflate, plain]) c.destroy();
    } finally {
      await s.stop({ timeout: 500 });
    }
  });

  it('an offer with an unknown or repeated parameter is declined (no compression, still connected)', async () => {
    await withServer('shared', async (s) => {
      const a = await RawClient.open(s.port, '/', 'Sec-WebSocket-Extensions: permessage-deflate; foo=1\r\n');
      assert.doesNotMatch(a.head, /Sec-WebSocket-Extensions/i);
      a.destroy();
      const b = await RawClient.open(s.port, '/', 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate\r\n');
      assert.match(b.head, /Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n/);
      b.destroy();
    });
  });
});
