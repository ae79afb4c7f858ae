/**
 * The URL a bench run aims at. Thread: any. Owns nothing.
 * http:, https:, ws: and wss: are spoken; anything else is refused up front so a
 * run never "succeeds" with every request malformed.
 */
import { UsageError } from '../cli/args.js';

export interface Target {
  /** http (and https): requests and responses; ws (and wss): a WebSocket echo per message. */
  scheme: 'http' | 'ws';
  /** Host to connect to, as written in the URL (brackets stripped for IPv6). */
  host: string;
  port: number;
  /** Path plus query, what goes on the request line. */
  path: string;
  /** Value of the Host header: host[:port] as in the URL. */
  hostHeader: string;
  /** The URL normalised, for reports. */
  href: string;
  /** https and wss: TLS on every connection. */
  tls: boolean;
}

const SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

const NOT_A_URL = (raw: string, also = '') => new UsageError(`'${raw}' is not a URL (expected http://host[:port][/path]${also})`);

export function parseTarget(raw: string): Target {
  let url: URL;
  // Accept "127.0.0.1:8080/x" like curl does; a bare host is common on the command line.
  const schemeless = !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(raw);
  try {
    url = new URL(schemeless ? `http://${raw}` : raw);
  } catch {
    throw NOT_A_URL(raw);
  }
  // Without a scheme, a lone word ('not-a-url', a misplaced flag value) is a typo far more often
  // than a host on the search path: it needs a port, a dot, or to be an address or localhost.
  const h = url.hostname;
  if (schemeless && !url.port && !h.includes('.') && !h.startsWith('[') && h !== 'localhost') {
    throw NOT_A_URL(raw, `; for a host of that name, write http://${raw}`);
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new UsageError(`unsupported URL scheme '${url.protocol.replace(/:$/, '')}': only http://, https://, ws:// and wss:// are supported`);
  }
  const tls = url.protocol === 'https:' || url.protocol === 'wss:';
  if (url.username || url.password) {
    throw new UsageError('credentials in the URL are not supported; pass -H "Authorization: ..." instead');
  }
  if (!url.hostname) throw new UsageError(`'${raw}' has no host`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  return {
    scheme: url.protocol === 'ws:' || url.protocol === 'wss:' ? 'ws' : 'http',
    host,
    port,
    path: `${url.pathname || '/'}${url.search}`,
    hostHeader: url.host,
    href: url.href,
    tls,
  };
}
