/**
 * The demo app of `edgeloop serve`, written against the native API. Loaded in
 * every loop thread (it is a module), so it keeps no cross-thread state.
 * Thread: each loop thread has its own instance. Owns a 64 KiB fill buffer.
 *
 *   GET  /             an index of these routes (HTML, for a browser)
 *   GET  /hello        200 "hello" (text/plain)
 *   POST /echo         the request body back, with the request's Content-Type
 *   GET  /delay?ms=N   waits N ms on a timer, then 200
 *   GET  /bytes?n=N    N bytes (streamed with backpressure)
 *   GET  /stats        per-loop counters as JSON
 *   WS   /ws           WebSocket echo: text back as text, binary as binary
 *   WS   /pubsub/TOPIC  every message goes to every other subscriber of TOPIC, on any loop
 *   GET  /ip           the client's address as the server sees it (text)
 *   GET  /metrics      (answered by serve({ metrics: '/metrics' }) before this app)
 *   GET  /healthz      200 ok / 503 draining (answered by the server: serve({ health }))
 */
import type { HandlerContext } from './options.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';
import type { WebSocketBehavior } from '../ws/options.js';

const FILL = new Uint8Array(64 * 1024).fill(0x78); // 'x'
const MAX_DELAY_MS = 600_000;
const MAX_BYTES = 2 ** 40;
const INDEX = `<!doctype html>
<meta charset="utf-8"><title>edgeloop serve</title>
<h1>edgeloop serve</h1>
<ul>
<li><a href="/hello">GET /hello</a>: 200 <code>hello</code></li>
<li>POST /echo: the request body back, with its Content-Type</li>
<li><a href="/delay?ms=250">GET /delay?ms=N</a>: waits N ms on a timer, then 200</li>
<li><a href="/bytes?n=1048576">GET /bytes?n=N</a>: N bytes</li>
<li><a href="/stats">GET /stats</a>: per-loop counters as JSON</li>
<li>WebSocket <code>/ws</code>: echo (text back as text, binary as binary)</li>
<li>WebSocket <code>/pubsub/&lt;topic&gt;</code>: every message goes to every other subscriber of the topic, on any loop</li>
<li><a href="/ip">GET /ip</a>: your address as the server sees it</li>
<li><a href="/metrics">GET /metrics</a>: counters in the Prometheus text format</li>
<li><a href="/healthz">GET /healthz</a>: 200 <code>ok</code> while serving, 503 <code>draining</code> while stopping</li>
</ul>
<h2>Live chat on <code>/pubsub/demo</code></h2>
<p id="status">connecting...</p>
<ol id="log"></ol>
<form id="chat"><input id="say" autocomplete="off" placeholder="say something" disabled> <button disabled>send</button></form>
<script>
// Every tab is a subscriber of /pubsub/demo; the server relays each line to every other one, on any loop.
const nick = new URLSearchParams(location.search).get('nick') || 'guest-' + Math.floor(Math.random() * 1e4);
const log = document.getElementById('log'), say = document.getElementById('say'), send = document.querySelector('#chat button');
const line = (text) => { const li = document.createElement('li'); li.textContent = text; log.append(li); };
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/pubsub/demo');
ws.onopen = () => {
  document.getElementById('status').textContent = 'connected as ' + nick;
  say.disabled = send.disabled = false;
  ws.send(nick + ' joined');
};
ws.onmessage = (e) => line(String(e.data));
ws.onclose = (e) => { document.getElementById('status').textContent = 'disconnected (' + e.code + ')'; say.disabled = send.disabled = true; };
document.getElementById('chat').onsubmit = (e) => {
  e.preventDefault();
  if (!say.value) return;
  ws.send(nick + ': ' + say.value);
  line('me: ' + say.value);
  say.value = '';
};
</script>
`;

/** What a demo socket is for: echo (no topic) or a pub/sub topic. */
interface DemoSocket {
  topic: string | null;
}

const PUBSUB = '/pubsub/';

export const websocket: WebSocketBehavior<DemoSocket> = {
  open(ws) {
    if (ws.data.topic !== null) ws.subscribe(ws.data.topic);
  },
  message(ws, message) {
    if (ws.data.topic === null) ws.send(message);
    else ws.publish(ws.data.topic, message);
  },
};

function upgrade(req: HttpRequest, res: HttpResponse, topic: string | null): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET');
  if (res.upgrade({ topic } satisfies DemoSocket) || res.finished) return;
  res.status(426).setHeader('Upgrade', 'websocket').setHeader('Content-Type', 'text/plain');
  res.end(`${req.path} is a WebSocket endpoint: connect with ${req.tls ? 'wss' : 'ws'}://HOST:PORT${req.path}\n`);
}

export function handler(req: HttpRequest, res: HttpResponse, ctx: HandlerContext): void | Promise<void> {
  const path = req.path;
  if (path.startsWith(PUBSUB)) {
    let topic: string;
    try {
      topic = decodeURIComponent(path.slice(PUBSUB.length));
    } catch {
      return badRequest(res, 'the topic is not valid percent-encoded UTF-8');
    }
    if (topic === '') return badRequest(res, 'name a topic: /pubsub/<topic>');
    return upgrade(req, res, topic);
  }
  const method = req.method;
  const isGet = method === 'GET' || method === 'HEAD';
  switch (path) {
    case '/':
      if (!isGet) return notAllowed(res, 'GET, HEAD');
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(INDEX);
      return;
    case '/hello':
      if (!isGet) return notAllowed(res, 'GET, HEAD');
      res.setHeader('Content-Type', 'text/plain');
      res.end('hello');
      return;
    case '/echo':
      if (method !== 'POST') return notAllowed(res, 'POST');
      return echo(req, res);
    case '/delay':
      if (!isGet) return notAllowed(res, 'GET, HEAD');
      return delay(req, res);
    case '/bytes':
      if (!isGet) return notAllowed(res, 'GET, HEAD');
      return bytes(req, res);
    case '/ws':
      return upgrade(req, res, null);
    case '/stats':
      if (!isGet) return notAllowed(res, 'GET, HEAD');
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ loops: ctx.loops, servedBy: ctx.loop, stats: ctx.stats() }, null, 2) + '\n');
      return;
    case '/ip':
      if (!isGet) return notAllowed(res, 'GET, HEAD');
      res.setHeader('Content-Type', 'text/plain');
      res.end(`${req.remoteAddress ?? 'unknown'}\n`);
      return;
    default:
      res.status(404).setHeader('Content-Type', 'text/plain').end('not found\n');
  }
}

export default handler;

function notAllowed(res: HttpResponse, allow: string): void {
  res.status(405).setHeader('Allow', allow).setHeader('Content-Type', 'text/plain').end('method not allowed\n');
}

function badRequest(res: HttpResponse, message: string): void {
  res.status(400).setHeader('Content-Type', 'text/plain').end(`${message}\n`);
}

async function echo(req: HttpRequest, res: HttpResponse): Promise<void> {
  const type = req.headers.get('content-type');
  if (type !== undefined) res.setHeader('Content-Type', type);
  const declared = req.body.expectedLength;
  if (declared >= 0 && declared <= 64 * 1024) {
    res.end(await req.bytes());
    return;
  }
  // Large or chunked: stream it back as it arrives; the client's reading paces our reading.
  if (declared >= 0) res.setHeader('Content-Length', declared);
  for await (const chunk of req.body) {
    if (!res.write(chunk)) await res.drain();
  }
  res.end();
}

function intParam(req: HttpRequest, name: string, max: number): number | undefined {
  const raw = req.query.get(name);
  if (raw === null || !/^\d{1,16}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= max ? n : undefined;
}

async function delay(req: HttpRequest, res: HttpResponse): Promise<void> {
  const ms = intParam(req, 'ms', MAX_DELAY_MS);
  if (ms === undefined) return badRequest(res, `ms must be a whole number from 0 to ${MAX_DELAY_MS}`);
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
  res.setHeader('Content-Type', 'text/plain');
  res.end(`waited ${ms} ms\n`);
}

async function bytes(req: HttpRequest, res: HttpResponse): Promise<void> {
  const n = intParam(req, 'n', MAX_BYTES);
  if (n === undefined) return badRequest(res, 'n must be a whole number of bytes');
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', n);
  if (res.isHead || n <= FILL.length) {
    res.end(FILL.subarray(0, n));
    return;
  }
  let left = n;
  while (left > 0) {
    const k = Math.min(left, FILL.length);
    left -= k;
    // Backpressure: a client that stops reading parks this loop here, with bounded output queued.
    if (!res.write(k === FILL.length ? FILL : FILL.subarray(0, k))) await res.drain();
  }
  res.end();
}
