/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2),
 * parsed strictly: anything that does not match the specification exactly is
 * an error, and the caller closes the connection. Thread: any. Owns nothing.
 *
 * A balancer that speaks it (HAProxy `send-proxy`/`send-proxy-v2`, AWS NLB,
 * nginx `proxy_protocol on`) sends one header before any data; the receiver
 * learns the client's address and port as the balancer saw them.
 */
import net from 'node:net';
import type { SockAddr } from '../native/binding.js';

/** Where the real endpoints of the connection are to be used (LOCAL, UNKNOWN, unspecified families). */
export interface ProxyLocal {
  readonly ok: true;
  readonly length: number;
  readonly command: 'local';
  readonly version: 1 | 2;
}

/** A relayed connection: the client and the address it reached, as the balancer saw them. */
export interface ProxyRelayed {
  readonly ok: true;
  readonly length: number;
  readonly command: 'proxy';
  readonly version: 1 | 2;
  readonly remote: SockAddr;
  readonly local: SockAddr;
}

export interface ProxyInvalid {
  readonly ok: false;
  readonly reason: string;
}

export type ProxyHeaderResult = ProxyLocal | ProxyRelayed | ProxyInvalid;

/** The longest v1 line, CRLF included (the specification's worst case). */
export const V1_MAX_LENGTH = 107;
/**
 * The longest v2 address block and TLVs accepted. The field allows 65535; real balancers send
 * tens of bytes (a few hundred with TLS TLVs). A cap keeps a hostile peer's pending header small.
 */
export const V2_MAX_PAYLOAD = 4096;

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const CR = 0x0d;
const LF = 0x0a;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^(0|[1-9]\d{0,4})$/;

function invalid(reason: string): ProxyInvalid {
  return { ok: false, reason };
}

/** True while `data[start..end)` agrees with `sig` on every byte it has. */
function matchesPrefix(data: Uint8Array, start: number, end: number, sig: readonly number[]): boolean {
  const n = Math.min(end - start, sig.length);
  for (let i = 0; i < n; i++) if (data[start + i] !== sig[i]) return false;
  return true;
}

/**
 * Parses the header at the start of `data[start..end)`. Returns null while more bytes are
 * needed (never for input that can no longer become valid: a wrong byte fails at once).
 */
export function parseProxyHeader(data: Uint8Array, start: number, end: number): ProxyHeaderResult | null {
  if (end <= start) return null;
  const first = data[start];
  if (first === V1_PREFIX[0]) return parseV1(data, start, end);
  if (first === V2_SIGNATURE[0]) return parseV2(data, start, end);
  return invalid('not a PROXY protocol header');
}

function parseV1(data: Uint8Array, start: number, end: number): ProxyHeaderResult | null {
  if (!matchesPrefix(data, start, end, V1_PREFIX)) return invalid('not a PROXY protocol header');
  const limit = Math.min(end, start + V1_MAX_LENGTH);
  let crlf = -1;
  for (let i = start; i < limit; i++) {
    const c = data[i];
    if (c === LF) return invalid('v1: a line feed without carriage return');
    if (c === CR) {
      if (i + 1 >= end) return null; // the LF may be in the next read
      if (data[i + 1] !== LF) return invalid('v1: a carriage return without line feed');
      crlf = i;
      break;
    }
    if (c! < 0x20 || c! > 0x7e) return invalid('v1: a byte that is not printable US-ASCII');
  }
  if (crlf < 0) return end - start >= V1_MAX_LENGTH ? invalid(`v1: no CRLF in the first ${V1_MAX_LENGTH} bytes`) : null;
  const line = globalThis.Buffer.from(data.buffer, data.byteOffset + start + V1_PREFIX.length, crlf - start - V1_PREFIX.length).toString('latin1');
  const length = crlf + 2 - start;
  const parts = line.split(' ');
  const proto = parts[0];
  // UNKNOWN: the sender speaks the protocol but cannot fill the line; the rest is ignored.
  if (proto === 'UNKNOWN') return { ok: true, length, command: 'local', version: 1 };
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`v1: unknown protocol ${JSON.stringify(proto)}`);
  if (parts.length !== 5) return invalid('v1: expected "PROXY TCPx SRC DST SPORT DPORT"');
  const [, src, dst, sport, dport] = parts as [string, string, string, string, string];
  const v4 = proto === 'TCP4';
  const srcAddr = v4 ? v1IPv4(src) : v1IPv6(src);
  const dstAddr = v4 ? v1IPv4(dst) : v1IPv6(dst);
  if (srcAddr === undefined || dstAddr === undefined) return invalid(`v1: an address that is not ${v4 ? 'IPv4' : 'IPv6'}`);
  const sp = v1Port(sport);
  const dp = v1Port(dport);
  if (sp === undefined || dp === undefined) return invalid('v1: a port that is not a number from 0 to 65535 (no leading zeros)');
  return relayed(1, length, v4, srcAddr, sp, dstAddr, dp);
}

function relayed(version: 1 | 2, length: number, v4: boolean, src: string, sport: number, dst: string, dport: number): ProxyRelayed {
  const family = v4 ? 'IPv4' : 'IPv6';
  return { ok: true, length, command: 'proxy', version, remote: { address: src, port: sport, family }, local: { address: dst, port: dport, family } };
}

function v1IPv4(s: string): string | undefined {
  return IPV4.test(s) ? s : undefined;
}

/** Colon-separated hex groups only: no zone, no embedded dotted quad. Returned in canonical form. */
function v1IPv6(s: string): string | undefined {
  if (!net.isIPv6(s) || s.includes('%') || s.includes('.')) return undefined;
  return new net.SocketAddress({ address: s, family: 'ipv6' }).address;
}

function v1Port(s: string): number | undefined {
  if (!PORT.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function parseV2(data: Uint8Array, start: number, end: number): ProxyHeaderResult | null {
  if (!matchesPrefix(data, start, end, V2_SIGNATURE)) return invalid('not a PROXY protocol header');
  if (end - start < 16) return null;
  const verCmd = data[start + 12]!;
  const fam = data[start + 13]!;
  const len = (data[start + 14]! << 8) | data[start + 15]!;
  if (verCmd >> 4 !== 2) return invalid(`v2: version ${verCmd >> 4}, expected 2`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid(`v2: unknown command ${cmd}`);
  const af = fam >> 4;
  const proto = fam & 0x0f;
  if (af > 3) return invalid(`v2: unknown address family ${af}`);
  if (proto > 2) return invalid(`v2: unknown transport protocol ${proto}`);
  if (len > V2_MAX_PAYLOAD) return invalid(`v2: ${len} bytes of addresses and TLVs, more than the ${V2_MAX_PAYLOAD} accepted`);
  const length = 16 + len;
  if (end - start < length) return null;
  const p = start + 16;
  const stop = start + length;
  // LOCAL (a balancer's own health check): the real endpoints, whatever the block says.
  if (cmd === 0) return { ok: true, length, command: 'local', version: 2 };
  // Addresses (and, for TCP and UDP, ports) of the announced family; UNSPEC announces none.
  const addrLen = af === 0 || proto === 0 ? 0 : af === 1 ? 12 : af === 2 ? 36 : 216;
  if (len < addrLen) return invalid(`v2: ${len} bytes for addresses that need ${addrLen}`);
  const tlvError = checkTlvs(data, p + addrLen, stop);
  if (tlvError !== undefined) return invalid(tlvError);
  // Only TCP is relayed here; for anything else (UNSPEC, UDP, UNIX) the specification lets the
  // receiver fall back to the real endpoints.
  if (proto !== 1 || (af !== 1 && af !== 2)) return { ok: true, length, command: 'local', version: 2 };
  const v4 = af === 1;
  const alen = v4 ? 4 : 16;
  const srcAddr = v4 ? ipv4At(data, p) : ipv6At(data, p);
  const dstAddr = v4 ? ipv4At(data, p + 4) : ipv6At(data, p + 16);
  const sp = (data[p + 2 * alen]! << 8) | data[p + 2 * alen + 1]!;
  const dp = (data[p + 2 * alen + 2]! << 8) | data[p + 2 * alen + 3]!;
  return relayed(2, length, v4, srcAddr, sp, dstAddr, dp);
}

/** TLVs (type, 16-bit length, value) must tile the rest of the block exactly; their contents are skipped. */
function checkTlvs(data: Uint8Array, p: number, stop: number): string | undefined {
  while (p < stop) {
    if (stop - p < 3) return 'v2: a truncated TLV';
    const n = (data[p + 1]! << 8) | data[p + 2]!;
    p += 3 + n;
    if (p > stop) return 'v2: a TLV longer than the header';
  }
  return undefined;
}

function ipv4At(d: Uint8Array, p: number): string {
  return `${d[p]!}.${d[p + 1]!}.${d[p + 2]!}.${d[p + 3]!}`;
}

function ipv6At(d: Uint8Array, p: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((d[p + i]! << 8) | d[p + i + 1]!).toString(16));
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}
