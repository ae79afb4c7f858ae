/**
 * Micro-benchmark of the HTTP hot path without sockets: bytes -> parser ->
 * handler -> serialized response, through the real HttpConnection with a
 * stand-in TcpConnection whose send() only counts bytes.
 * Run: node dist/bench/http-micro.js [--seconds S]
 * Prints ns of CPU time (user + system, so a busy neighbour does not count) per request for a wrk-like GET, a browser-like GET and a
 * 16-deep pipeline, plus the parser alone; then the wrk GET through the fetch
 * adapter and through a Hono app (the Web API's own JS cost).
 */
import { Hono } from 'hono';
import { HttpConnection } from '../src/http/connection.js';
import { fromFetch } from '../src/http/fetch.js';
import { installFastResponse } from '../src/http/web-response.js';
import { HttpLoop } from '../src/http/loop.js';
import { handlerContext } from '../src/http/handlers.js';
import { resolveHttpOptions, type Handler } from '../src/http/options.js';
import { RequestParser, EV_NEED_MORE } from '../src/http/parser/request-parser.js';
import { resolveLimits } from '../src/http/parser/limits.js';
import { LoopStats } from '../src/reactor/LoopStats.js';
import type { EventLoop } from '../src/reactor/EventLoop.js';
import type { TcpConnection } from '../src/reactor/TcpConnection.js';
import type { Buffer as ReactorBuffer } from '../src/reactor/Buffer.js';
import { flag, parseFlagsOrExit } from '../src/cli/args.js';
import { ServerState } from '../src/reactor/ServerState.js';

const seconds = parseFlagsOrExit('bench:http-micro', process.argv.slice(2), { seconds: flag.decimal({ min: 0, above: true, max: 3600 }) }).seconds ?? 2;

const stats = new LoopStats(0);
const fakeLoop = {
  now: () => performance.now(),
  stats,
  runEvery: () => ({ cancel() {} }),
  runAfter: () => ({ cancel() {} }),
  reportError: (e: unknown) => console.error(e),
} as unknown as EventLoop;

let sentBytes = 0;
const fakeConn = {
  isClosed: false,
  bufferedAmount: 0,
  highWaterMark: 1 << 20,
  lowWaterMark: 1 << 18,
  isReadingPaused: false,
  sendRange(_b: Uint8Array, _offset: number, len: number) {
    sentBytes += len;
    return true;
  },
  pauseReading() {},
  resumeReading() {},
  close() {},
  forceClose() {},
} as unknown as TcpConnection;

/** The same bytes again on every read (HttpConnection parses data[r..w)). */
class FakeBuffer {
  readonly r = 0;
  readonly w: number;
  constructor(readonly data: Uint8Array) {
    this.w = data.length;
  }
  retrieve(): void {}
  retrieveAll(): void {}
}

const hello: Handler = (_req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end('hello');
};

const wrkGet = 'GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n';
const browserGet =
  'GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n' +
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n' +
  'Connection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\nCache-Control: max-age=0\r\n\r\n';

function measure(name: string, raw: string, perBatch: number, handler: Handler = hello): void {
  const state = new ServerState();
  const hl = new HttpLoop(fakeLoop, resolveHttpOptions({}), handler, handlerContext({ loop: 0, loops: 1, stats: () => [], health: () => state.health() }), state);
  const hc = new HttpConnection(hl, fakeConn);
  const buf = new FakeBuffer(Buffer.from(raw, 'latin1')) as unknown as ReactorBuffer;
  // warm up
  for (let i = 0; i < 20000; i++) hc.onMessage(buf);
  const cpu0 = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  let batches = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) hc.onMessage(buf);
    batches += 1000;
  }
  const cpu = process.cpuUsage(cpu0);
  const ns = ((cpu.user + cpu.system) * 1000) / (batches * perBatch);
  console.log(`${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/request`);
}

function measureParser(name: string, raw: string): void {
  const parser = new RequestParser(resolveLimits({}));
  const bytes = Buffer.from(raw, 'latin1');
  const run = (): void => {
    let pos = 0;
    for (;;) {
      const ev = parser.execute(bytes, pos, bytes.length);
      pos = parser.pos;
      if (ev === EV_NEED_MORE) break;
    }
  };
  for (let i = 0; i < 20000; i++) run();
  const cpu0 = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) run();
    n += 1000;
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(`${name.padEnd(34)} ${(((cpu.user + cpu.system) * 1000) / n).toFixed(0).padStart(6)} ns/request`);
}

const only = process.env.ONLY;
if (!only) measureParser('parser only, wrk GET', wrkGet);
if (!only) measureParser('parser only, browser GET', browserGet);
measure('wrk GET -> hello', wrkGet, 1);
if (!only) measure('browser GET -> hello', browserGet, 1);
if (!only) measure('16 pipelined wrk GETs -> hello', wrkGet.repeat(16), 16);
installFastResponse(); // as serve({ fetch }) does
measure('wrk GET -> fetch adapter', wrkGet, 1, fromFetch(() => new Response('hello', { headers: { 'content-type': 'text/plain' } })));
const app = new Hono();
app.get('/hello', (c) => c.text('hello'));
measure('wrk GET -> Hono app', wrkGet, 1, fromFetch(app.fetch));
console.log(`(sent ${sentBytes} bytes)`);
