/**
 * Who the client is behind HTTP-level proxies (nginx, a cloud balancer): the
 * `X-Forwarded-For` (or `Forwarded`) chain is believed only hop by hop, from
 * the connection's peer outwards, and only while each hop is on the
 * `trustProxy` list. A header from a peer not on the list is ignored, so a
 * client cannot choose its own address. Thread: any (one per loop). Owns its
 * address list.
 */
import net from 'node:net';
import type { SockAddr } from '../native/binding.js';

export type ProxyHeader = 'x-forwarded-for' | 'forwarded';

/** Names for common ranges, as Express spells them. */
const NAMED: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export class TrustProxy {
  private readonly list = new net.BlockList();

  /**
   * `entries`: addresses ("10.0.0.7", "::1"), CIDR ranges ("10.0.0.0/8", "fd00::/8"), or
   * `loopback`, `linklocal`, `uniquelocal`. Throws a RangeError naming a bad entry.
   */
  constructor(
    entries: readonly string[],
    readonly header: ProxyHeader = 'x-forwarded-for',
  ) {
    if (!Array.isArray(entries)) throw new TypeError('trustProxy must be a list of addresses or CIDR ranges, e.g. ["127.0.0.1", "10.0.0.0/8"]');
    if (header !== 'x-forwarded-for' && header !== 'forwarded') {
      throw new RangeError(`proxyHeader must be 'x-forwarded-for' or 'forwarded', got ${JSON.stringify(header)}`);
    }
    for (const e of entries) {
      for (const one of NAMED[e] ?? [e]) this.add(one);
    }
  }

  private add(entry: string): void {
    if (typeof entry !== 'string') throw new RangeError(`trustProxy: ${JSON.stringify(entry)} is not an address or CIDR range`);
    const slash = entry.indexOf('/');
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const family = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) && !addr.includes('%') ? 'ipv6' : undefined;
    const bits = slash < 0 ? undefined : entry.slice(slash + 1);
    const max = family === 'ipv4' ? 32 : 128;
    if (family === undefined || (bits !== undefined && !/^(0|[1-9]\d{0,2})$/.test(bits)) || Number(bits ?? 0) > max) {
      throw new RangeError(
        `trustProxy: '${entry}' is not an address or CIDR range (use e.g. 10.0.0.7, 10.0.0.0/8, fd00::/8, or loopback, linklocal, uniquelocal)`,
      );
    }
    if (bits === undefined) this.list.addAddress(addr, family);
    else this.list.addSubnet(addr, Number(bits), family);
  }

  trusts(address: string): boolean {
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
    return family !== undefined && this.list.check(address, family);
  }

  /**
   * The client as the trusted proxies report it: walks the chain from the nearest hop outwards
   * and stops at the first hop not trusted (or not readable: a trusted proxy vouched for
   * nothing further). `rawHeaders`: the request's flat name/value list, names lowercased.
   */
  resolve(peer: SockAddr, rawHeaders: readonly string[]): SockAddr {
    if (!this.trusts(peer.address)) return peer;
    const hops = this.header === 'forwarded' ? forwardedHops(rawHeaders) : xffHops(rawHeaders);
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (hop === null) break;
      client = hop;
      if (!this.trusts(hop.address)) break;
    }
    return client;
  }
}

function hop(address: string, port: number): SockAddr | null {
  if (net.isIPv4(address)) return { address, port, family: 'IPv4' };
  if (net.isIPv6(address) && !address.includes('%')) return { address: address.toLowerCase(), port, family: 'IPv6' };
  return null;
}

/** X-Forwarded-For: comma-separated addresses, every field in order. Unreadable hops are null. */
function xffHops(raw: readonly string[]): (SockAddr | null)[] {
  const out: (SockAddr | null)[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] !== 'x-forwarded-for') continue;
    for (const part of raw[i + 1]!.split(',')) out.push(hop(part.trim(), 0));
  }
  return out;
}

/** Forwarded (RFC 7239): the `for=` of each element, in order; elements without one are unreadable. */
function forwardedHops(raw: readonly string[]): (SockAddr | null)[] {
  const out: (SockAddr | null)[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] !== 'forwarded') continue;
    for (const element of raw[i + 1]!.split(',')) {
      let node: string | undefined;
      for (const pair of element.split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for') node = pair.slice(eq + 1).trim();
      }
      out.push(node === undefined ? null : forwardedNode(node));
    }
  }
  return out;
}

/** A `for=` node: 192.0.2.1, "192.0.2.1:4711", "[2001:db8::1]:4711"; `unknown` and obfuscated names are unreadable. */
function forwardedNode(v: string): SockAddr | null {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  let port = 0;
  let address = v;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0) return null;
    address = v.slice(1, close);
    const rest = v.slice(close + 1);
    if (rest !== '') {
      if (!/^:\d{1,5}$/.test(rest)) return null;
      port = Number(rest.slice(1));
    }
  } else {
    const colon = v.indexOf(':');
    if (colon >= 0) {
      if (!/^\d{1,5}$/.test(v.slice(colon + 1))) return null;
      port = Number(v.slice(colon + 1));
      address = v.slice(0, colon);
    }
    if (!net.isIPv4(address)) return null; // an IPv6 node must be bracketed
  }
  if (port > 65535) return null;
  return hop(address, port);
}
