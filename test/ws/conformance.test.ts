/**
 * A conformance suite modelled on Autobahn|Testsuite (sections 1-7 and 9;
 * compression, 12-13, is in compression.test.ts), driven by a raw client
 * that can break every rule. Sizes are kept small so it runs in seconds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type HttpServer } from '../../src/http/index.js';
import { closeFrame, frame, RawClient } from './raw.js';

const MAX = 64 * 1024;
let server: HttpServer;
let port: number;
const opened: RawClient[] = [];

before(async () => {
  server = await serve({
    fetch(req, srv) {
      if (srv.upgrade(req)) return;
      return new Response('not a websocket', { status: 426 });
    },
    websocket: {
      maxPayloadLength: MAX,
      message(ws, msg) {
        ws.send(msg);
      },
    },
  });
  port = server.port;
});

after(async () => {
  for (const c of opened) c.destroy();
  await server.stop({ timeout: 500 });
});

async function client(): Promise<RawClient> {
  const c = await RawClient.open(port);
  opened.push(c);
  return c;
}

/** Sends the frames and expects the server to close with `code` (and the TCP connection to end). */
async function expectClose(code: number, ...frames: Buffer[]): Promise<RawClient> {
  const c = await client();
  c.send(...frames);
  const got = await c.closed();
  assert.equal(got.code, code, `close code (reason: ${got.reason})`);
  return c;
}

async function fails(code: number, ...frames: Buffer[]): Promise<void> {
  await expectClose(code, ...frames);
}

async function echo(spec: { op: number; payload: Buffer | string }, split = 0): Promise<void> {
  const c = await client();
  const bytes = frame(spec);
  if (split > 0) await c.sendSplit(bytes, split);
  else c.send(bytes);
  const f = await c.frameAt(0);
  assert.equal(f.op, spec.op);
  assert.equal(f.fin, true);
  assert.deepEqual(f.payload, Buffer.from(spec.payload));
  c.send(closeFrame(1000));
  assert.equal((await c.closed()).code, 1000);
}

describe('1 framing', () => {
  for (const n of [0, 125, 126, 127, 128, 65535, 65536]) {
    it(`1.1 text message of ${n} bytes is echoed`, () => echo({ op: 1, payload: 'a'.repeat(n) }));
    it(`1.2 binary message of ${n} bytes is echoed`, () => echo({ op: 2, payload: Buffer.alloc(n, 0xfe) }));
  }
  it('1.1.8 a 64 KiB text message written in 997-byte chunks', () => echo({ op: 1, payload: 'b'.repeat(65535) }, 997));
  it('1.2.x a binary message written one byte at a time', () => echo({ op: 2, payload: Buffer.from([0, 1, 2, 255, 254]) }, 1));
});

describe('2 pings and pongs', () => {
  it('2.1 a ping without payload gets a pong', async () => {
    const c = await client();
    c.send(frame({ op: 9 }));
    const f = await c.frameAt(0);
    assert.equal(f.op, 10);
    assert.equal(f.payload.length, 0);
  });
  it('2.2/2.3 a ping with text or binary payload gets it back', async () => {
    const c = await client();
    c.send(frame({ op: 9, payload: 'Hello, world!' }), frame({ op: 9, payload: Buffer.from([0, 0xff, 0xfe, 0xfd]) }));
    assert.deepEqual((await c.frameAt(0)).payload, Buffer.from('Hello, world!'));
    assert.deepEqual((await c.frameAt(1)).payload, Buffer.from([0, 0xff, 0xfe, 0xfd]));
  });
  it('2.4 a ping with 125 bytes gets them back', async () => {
    const c = await client();
    c.send(frame({ op: 9, payload: Buffer.alloc(125, 0xfe) }));
    assert.deepEqual((await c.frameAt(0)).payload, Buffer.alloc(125, 0xfe));
  });
  it('2.5 a ping with 126 bytes is a protocol error (1002)', () => fails(1002, frame({ op: 9, payload: Buffer.alloc(126) })));
  it('2.6 a ping sent one byte at a time is answered', async () => {
    const c = await client();
    await c.sendSplit(frame({ op: 9, payload: 'x'.repeat(125) }), 1);
    assert.equal((await c.frameAt(0)).payload.length, 125);
  });
  it('2.7 an unsolicited pong is ignored', async () => {
    const c = await client();
    c.send(frame({ op: 10, payload: 'unsolicited' }), frame({ op: 1, payload: 'after' }));
    const f = await c.frameAt(0);
    assert.equal(f.op, 1);
    assert.equal(f.payload.toString(), 'after');
  });
  it('2.10 ten pings get ten pongs, in order', async () => {
    const c = await client();
    c.send(...Array.from({ length: 10 }, (_, i) => frame({ op: 9, payload: `p${i}` })));
    await c.frameAt(9);
    assert.deepEqual(
      c.frames.map((f) => f.payload.toString()),
      Array.from({ length: 10 }, (_, i) => `p${i}`),
    );
  });
});

describe('3 reserved bits', () => {
  for (const rsv of [1, 2, 3, 4, 5, 6, 7]) {
    it(`3.${rsv} RSV=${rsv} without an extension fails with 1002`, () => fails(1002, frame({ op: 1, payload: 'x', rsv })));
  }
  it('3.x RSV on a ping fails with 1002', () => fails(1002, frame({ op: 9, rsv: 4 })));
});

describe('4 opcodes', () => {
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    it(`4.x reserved opcode ${op} fails with 1002`, () => fails(1002, frame({ op, payload: 'x' })));
  }
  it('4.1.3 a reserved opcode after a good message: the message is echoed first', async () => {
    const c = await expectClose(1002, frame({ op: 1, payload: 'ok' }), frame({ op: 5 }));
    assert.equal(c.frames[0]!.payload.toString(), 'ok');
  });
});

describe('5 fragmentation', () => {
  it('5.1 a fragmented ping fails with 1002', () => fails(1002, frame({ op: 9, fin: false, payload: 'a' }), frame({ op: 0, payload: 'b' })));
  it('5.3 a text message in two fragments is echoed whole', async () => {
    const c = await client();
    c.send(frame({ op: 1, fin: false, payload: 'frag' }), frame({ op: 0, payload: 'ment' }));
    assert.equal((await c.frameAt(0)).payload.toString(), 'fragment');
  });
  it('5.6 a ping between fragments is answered first, then the message', async () => {
    const c = await client();
    c.send(frame({ op: 1, fin: false, payload: 'fr' }), frame({ op: 9, payload: 'ping' }), frame({ op: 0, payload: 'ag' }));
    assert.equal((await c.frameAt(0)).op, 10);
    assert.equal((await c.frameAt(1)).payload.toString(), 'frag');
  });
  it('5.8 the same, each byte its own write', async () => {
    const c = await client();
    const b = Buffer.concat([frame({ op: 1, fin: false, payload: 'fr' }), frame({ op: 9, payload: 'ping' }), frame({ op: 0, payload: 'ag' })]);
    await c.sendSplit(b, 1);
    assert.equal((await c.frameAt(1)).payload.toString(), 'frag');
  });
  it('5.9 a continuation without a message fails with 1002', () => fails(1002, frame({ op: 0, payload: 'x' })));
  it('5.15 a new message before the fragmented one ended fails with 1002', () =>
    fails(1002, frame({ op: 1, fin: false, payload: 'a' }), frame({ op: 1, payload: 'b' })));
  it('5.19 many fragments with pings between are echoed whole', async () => {
    const c = await client();
    const parts: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      parts.push(frame({ op: i === 0 ? 1 : 0, fin: i === 9, payload: `${i}` }));
      if (i % 3 === 0) parts.push(frame({ op: 9, payload: `p${i}` }));
    }
    c.send(...parts);
    await c.until(() => c.frames.some((f) => f.op === 1), 'the message');
    assert.equal(c.frames.find((f) => f.op === 1)!.payload.toString(), '0123456789');
    assert.equal(c.frames.filter((f) => f.op === 10).length, 4);
  });
  it('5.20 empty fragments make an empty message', async () => {
    const c = await client();
    c.send(frame({ op: 2, fin: false }), frame({ op: 0, fin: false }), frame({ op: 0 }));
    const f = await c.frameAt(0);
    assert.equal(f.op, 2);
    assert.equal(f.payload.length, 0);
  });
});

describe('6 UTF-8', () => {
  const valid = ['κόσμε', 'Hello-µ@ßöäüàá-UTF-8!!', '\u{10ffff}', '\u{1f600} emoji', '\ud7ff\ue000\ufffd'];
  for (const s of valid) {
    it(`6.x valid text ${JSON.stringify(s)} is echoed`, () => echo({ op: 1, payload: s }));
    it(`6.x valid text ${JSON.stringify(s)} split at every byte is echoed`, () => echo({ op: 1, payload: s }, 1));
  }
  it('6.2 valid text fragmented inside a code point is echoed', async () => {
    const c = await client();
    const b = Buffer.from('κόσμε');
    c.send(frame({ op: 1, fin: false, payload: b.subarray(0, 1) }), frame({ op: 0, fin: false, payload: b.subarray(1, 4) }), frame({ op: 0, payload: b.subarray(4) }));
    assert.equal((await c.frameAt(0)).payload.toString(), 'κόσμε');
  });
  const invalid: [string, number[]][] = [
    ['lone continuation', [0x80]],
    ['overlong slash', [0xc0, 0xaf]],
    ['overlong 3-byte', [0xe0, 0x80, 0xaf]],
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xFE', [0xfe]],
    ['0xF5', [0xf5, 0x80, 0x80, 0x80]],
    ['truncated at the end', [0x41, 0xe2, 0x82]],
  ];
  for (const [name, bytes] of invalid) {
    it(`6.x invalid text (${name}) fails with 1007`, () => fails(1007, frame({ op: 1, payload: Buffer.from(bytes) })));
    it(`6.x invalid text (${name}) in fragments fails with 1007`, () =>
      fails(1007, frame({ op: 1, fin: false, payload: Buffer.from('ok') }), frame({ op: 0, payload: Buffer.from(bytes) })));
  }
  it('6.4 fail fast: an invalid first fragment closes before the message ends', async () => {
    const c = await client();
    c.send(frame({ op: 1, fin: false, payload: Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90, 0x80, 0x80]) }));
    assert.equal((await c.closed()).code, 1007);
  });
  it('6.4 fail fast: invalid bytes in a frame still arriving close at once', async () => {
    const c = await client();
    const f = frame({ op: 1, payload: Buffer.concat([Buffer.from([0xc0, 0x80]), Buffer.alloc(1000, 0x41)]) });
    c.send(f.subarray(0, 20)); // the rest never comes
    assert.equal((await c.closed()).code, 1007);
  });
});

describe('7 close handling', () => {
  it('7.1.1 a close with 1000 is echoed and TCP closed', () => fails(1000, closeFrame(1000)));
  it('7.1.2 after our close, further messages are not answered', async () => {
    const c = await expectClose(1000, closeFrame(1000), frame({ op: 1, payload: 'late' }), frame({ op: 9 }));
    assert.equal(c.frames.length, 1);
  });
  it('7.3.1 an empty close is answered with an empty close', () => fails(1005, closeFrame()));
  it('7.3.2 a close with a 1-byte payload fails with 1002', () => fails(1002, frame({ op: 8, payload: Buffer.from([3]) })));
  it('7.3.4 a close with a reason is echoed', async () => {
    const c = await expectClose(1000, closeFrame(1000, 'bye'));
    assert.equal(c.frames[0]!.op, 8);
  });
  it('7.3.6 a close with a 124-byte reason (126-byte payload) fails with 1002', () =>
    fails(1002, frame({ op: 8, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.alloc(124, 0x61)]) })));
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]) {
    it(`7.7 close code ${code} is echoed`, () => fails(code, closeFrame(code)));
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    it(`7.9 invalid close code ${code} fails with 1002`, () => fails(1002, closeFrame(code)));
  }
  it('7.5.1 a close reason with invalid UTF-8 fails with 1007', () => fails(1007, closeFrame(1000, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xed, 0xa0, 0x80]))));
  it('an unmasked client frame fails with 1002', () => fails(1002, frame({ op: 1, payload: 'x', mask: false })));
});

describe('9 limits', () => {
  it(`9.x a message of exactly maxPayloadLength (${MAX}) is echoed`, () => echo({ op: 2, payload: Buffer.alloc(MAX, 1) }));
  it('9.x a frame over maxPayloadLength fails with 1009 at its header', async () => {
    const c = await client();
    const f = frame({ op: 2, payload: Buffer.alloc(MAX + 1) });
    c.send(f.subarray(0, 14)); // only the header: the limit is enforced before the payload arrives
    assert.equal((await c.closed()).code, 1009);
  });
  it('9.x fragments adding up to more than maxPayloadLength fail with 1009', () =>
    fails(1009, frame({ op: 1, fin: false, payload: 'a'.repeat(MAX / 2) }), frame({ op: 0, fin: false, payload: 'a'.repeat(MAX / 2) }), frame({ op: 0, payload: 'a' })));
  it('9.x a 2^63-byte length fails at once', () => {
    const h = Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    return fails(1002, h);
  });
  it('9.x 100 messages in one write are all echoed, in order', async () => {
    const c = await client();
    c.send(...Array.from({ length: 100 }, (_, i) => frame({ op: 1, payload: `m${i}` })));
    await c.frameAt(99);
    assert.deepEqual(
      c.frames.map((f) => f.payload.toString()),
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
  });
});
