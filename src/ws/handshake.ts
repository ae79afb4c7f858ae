/**
 * The opening handshake (RFC 6455 4.2): checks an HTTP request that asks for
 * a WebSocket and computes what the 101 answer carries, or the error status
 * to answer with instead (426 for a client that must speak version 13, 400
 * for a malformed upgrade). A request that does not ask for a WebSocket at
 * all is left to the app (it may serve a page there, or answer 426).
 * Thread: any. Owns nothing.
 */
import { createHash } from 'node:crypto';
import type { RequestHead } from '../http/parser/request-parser.js';
import { negotiateDeflate, type DeflateParams } from './deflate.js';
import type { ResolvedWsOptions } from './options.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;

export type Handshake =
  | {
      ok: true;
      /** Sec-WebSocket-Accept */
      accept: string;
      protocol: string | undefined;
      deflate: DeflateParams | null;
      /** Sec-WebSocket-Extensions of the answer ('' for none). */
      extensions: string;
    }
  /** status 0: the request did not ask for a WebSocket at all (no answer is made for it). */
  | { ok: false; status: 0 | 400 | 426; message: string; headers: [string, string][] };

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Every value of a header (comma lists of repeated fields joined), or undefined when absent. */
function field(head: RequestHead, name: string): { value: string; count: number } | undefined {
  const h = head.headers;
  let value: string | undefined;
  let count = 0;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    if (n.length === name.length && n.toLowerCase() === name) {
      value = value === undefined ? h[i + 1]! : `${value}, ${h[i + 1]!}`;
      count++;
    }
  }
  return value === undefined ? undefined : { value, count };
}

function hasToken(list: string, token: string): boolean {
  for (const t of list.split(',')) if (t.trim().toLowerCase() === token) return true;
  return false;
}

function bad(status: 0 | 400 | 426, message: string, headers: [string, string][] = []): Handshake {
  return { ok: false, status, message, headers };
}

/** Checks an upgrade request against RFC 6455 4.2.1 and negotiates subprotocol and extensions. */
export function checkHandshake(head: RequestHead, o: ResolvedWsOptions): Handshake {
  const upgrade = field(head, 'upgrade');
  if (upgrade === undefined || !hasToken(upgrade.value, 'websocket')) {
    return bad(0, 'not a WebSocket handshake (no Upgrade: websocket)');
  }
  if (head.method !== 'GET') return bad(400, `a WebSocket handshake must be a GET, not ${head.method}`);
  if (head.versionMinor !== 1) return bad(400, 'a WebSocket handshake needs HTTP/1.1');
  if (head.hasBody) return bad(400, 'a WebSocket handshake has no body');
  const connection = field(head, 'connection');
  if (connection === undefined || !hasToken(connection.value, 'upgrade')) return bad(400, 'Connection: Upgrade is missing');
  const version = field(head, 'sec-websocket-version');
  if (version === undefined) return bad(400, 'Sec-WebSocket-Version is missing');
  if (version.value.trim() !== '13') {
    return bad(426, `unsupported Sec-WebSocket-Version ${version.value}: this server speaks 13`, [['Sec-WebSocket-Version', '13']]);
  }
  const key = field(head, 'sec-websocket-key');
  if (key === undefined || key.count !== 1 || !KEY.test(key.value.trim())) {
    return bad(400, 'Sec-WebSocket-Key must be one base64-encoded 16-byte value');
  }
  const offered: string[] = [];
  const proto = field(head, 'sec-websocket-protocol');
  if (proto !== undefined) {
    for (const p of proto.value.split(',')) {
      const t = p.trim();
      if (t !== '') offered.push(t);
    }
  }
  let protocol: string | undefined;
  if (offered.length > 0) {
    const p = o.protocols;
    if (typeof p === 'function') {
      const chosen = p(offered);
      // The answer must be one of the offers (4.2.2): anything else would fail the client.
      protocol = chosen !== undefined && offered.includes(chosen) ? chosen : undefined;
    } else {
      protocol = p.find((x) => offered.includes(x));
    }
  }
  let deflate: DeflateParams | null = null;
  let extensions = '';
  if (o.compression !== false) {
    const ext = field(head, 'sec-websocket-extensions');
    const agreed = ext === undefined ? null : negotiateDeflate(ext.value, o.compression);
    if (agreed !== null) {
      deflate = agreed.params;
      extensions = agreed.response;
    }
  }
  return { ok: true, accept: acceptKey(key.value.trim()), protocol, deflate, extensions };
}

/** The 101 head; `extra` are header lines the app set ("Name: value\r\n" each). */
export function switchingProtocols(h: Extract<Handshake, { ok: true }>, extra: string): string {
  let s = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${h.accept}\r\n`;
  if (h.protocol !== undefined) s += `Sec-WebSocket-Protocol: ${h.protocol}\r\n`;
  if (h.extensions !== '') s += `Sec-WebSocket-Extensions: ${h.extensions}\r\n`;
  return s + extra + '\r\n';
}
