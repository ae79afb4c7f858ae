/**
 * TLS options as users write them (PEM strings or Buffers) and as loop
 * threads receive them (validated, structured-clonable bytes). Validation
 * builds a context once on the calling thread, so a bad certificate or key
 * fails serve()/listen() with OpenSSL's reason before any thread starts.
 * Thread: any. Owns nothing.
 */
import { createRequire } from 'node:module';
import { native, type TlsContextHandle } from '../../native/binding.js';
import { TlsError } from './TlsError.js';

export type Pem = string | Uint8Array;

export interface TlsCertificate {
  /** PEM certificate; more certificates after the first are its chain (leaf first). */
  cert: Pem;
  /** PEM private key (unencrypted), ECDSA or RSA. */
  key: Pem;
}

/**
 * Picks the certificate for a handshake by the SNI name the client sent (a
 * client that sends none gets `cert`). Return a certificate, or undefined/null
 * for the default `cert`; a Promise of either is awaited (the handshake waits,
 * the loop does not). A throw or rejection fails that handshake. It runs on
 * the thread that created the server, whatever the loop count; each loop asks
 * once per name and keeps the answer until setSecureContext().
 */
export type SniCallback = (servername: string) => TlsCertificate | null | undefined | Promise<TlsCertificate | null | undefined>;

export interface TlsServerOptions extends TlsCertificate {
  /** PEM CA certificates that client certificates are verified against (mTLS). */
  ca?: Pem | Pem[];
  /**
   * More certificates by server name (SNI): a map of exact names or
   * "*.example.com" (unknown names get `cert`), or a callback (SniCallback).
   */
  sni?: Record<string, TlsCertificate> | SniCallback;
  /** ALPN protocols in preference order. serve() uses ['http/1.1']; TcpServer none. 'h2' is refused (not implemented). */
  alpn?: string[];
  /** Ask clients for a certificate (mTLS). */
  requestCert?: boolean;
  /** With requestCert: refuse clients without a certificate the CA signed. Default true. False records the verdict instead. */
  rejectUnauthorized?: boolean;
  /** Milliseconds a connection may take to complete its handshake. Default 10 s (nginx waits 60 s, Node 120 s). */
  handshakeTimeout?: number;
  /** Handshake steps each loop runs per turn before it serves established connections again. Default 32. */
  handshakesPerTurn?: number;
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults, all AEAD). */
  ciphers?: string;
}

export interface TlsClientOptions {
  /** The name sent in SNI and checked against the certificate. Default: the host connected to. */
  servername?: string;
  /** PEM CA certificates to trust instead of Node's bundled roots. */
  ca?: Pem | Pem[];
  /** Refuse a server whose certificate does not verify or name `servername`. Default true. */
  rejectUnauthorized?: boolean;
  /** PEM client certificate and key (mTLS). */
  cert?: Pem;
  key?: Pem;
  /** ALPN protocols to offer. */
  alpn?: string[];
  /** Milliseconds the handshake may take. Default 10 s. */
  handshakeTimeout?: number;
}

/** What crosses into loop threads. */
export interface TlsServerConfig {
  cert: Uint8Array;
  key: Uint8Array;
  ca: Uint8Array | null;
  sni: Array<{ name: string; cert: Uint8Array; key: Uint8Array }>;
  /** tls.sni is a callback: handshakes naming a server wait for its answer (the function stays on the server's thread). */
  sniCallback: boolean;
  alpn: Uint8Array | null;
  verify: number;
  ticketKeys: Uint8Array;
  ciphers: string;
  handshakeTimeout: number;
  handshakesPerTurn: number;
  /** Bytes answered to plain HTTP sent to the TLS port before closing (serve() sets a 400), or null to just close. */
  plainHttpReply: string | null;
}

/** Mozilla's "intermediate" TLS 1.2 list without DHE: ECDHE key exchange, AEAD only. */
export const DEFAULT_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:' +
  'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

export const VERIFY_NONE = 0;
export const VERIFY_REJECT = 1;
export const VERIFY_RECORD = 2;

export function pemBytes(name: string, v: Pem | Pem[] | undefined): Uint8Array | null {
  if (v === undefined) return null;
  const parts = Array.isArray(v) ? v : [v];
  const bufs: Uint8Array[] = [];
  for (const p of parts) {
    if (typeof p === 'string') bufs.push(Buffer.from(p));
    else if (p instanceof Uint8Array) bufs.push(p);
    else throw new TypeError(`tls.${name} must be a PEM string or Buffer (got ${typeof p})`);
  }
  const all = Buffer.concat(bufs.flatMap((b) => [b, Buffer.from('\n')]));
  if (!all.includes('-----BEGIN ')) {
    throw new TypeError(`tls.${name} is not PEM (no "-----BEGIN" line): pass the file's contents, e.g. fs.readFileSync('${name}.pem')`);
  }
  return new Uint8Array(all);
}

/** ALPN's wire format: each name as a length byte and the name. */
export function alpnWire(list: string[] | undefined): Uint8Array | null {
  if (list === undefined || list.length === 0) return null;
  const parts: number[] = [];
  for (const p of list) {
    if (typeof p !== 'string' || p.length === 0 || p.length > 255) throw new TypeError(`tls.alpn: invalid protocol name ${JSON.stringify(p)}`);
    if (p === 'h2') throw new TypeError("tls.alpn: 'h2' is not supported (edgeloop speaks HTTP/1.1 only); use ['http/1.1']");
    const b = Buffer.from(p, 'latin1');
    parts.push(b.length, ...b);
  }
  return new Uint8Array(parts);
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`tls.${name} must be a positive number, got ${String(v)}`);
  return v;
}

/** A server context for one certificate, with the rest of cfg (CA, ALPN, verification, ticket keys, ciphers). */
export function certificateContext(cfg: TlsServerConfig, cert: Uint8Array, key: Uint8Array, what: string): TlsContextHandle {
  try {
    return native.tlsContext(true, cert, key, cfg.ca, cfg.alpn, cfg.verify, cfg.ticketKeys, cfg.ciphers);
  } catch (err) {
    throw new TlsError('ERR_TLS_CONFIG', `TLS ${what}: ${(err as Error).message}`);
  }
}

/** Builds the OpenSSL context (with its SNI contexts) that new handshakes of this thread use. */
export function serverContext(cfg: TlsServerConfig): TlsContextHandle {
  const ctx = certificateContext(cfg, cfg.cert, cfg.key, 'cert/key');
  for (const s of cfg.sni) native.tlsContextAddSni(ctx, s.name, certificateContext(cfg, s.cert, s.key, `sni['${s.name}']`));
  if (cfg.sniCallback) native.tlsContextAskSni(ctx);
  return ctx;
}

/** What a SniCallback answered, as bytes for the loop thread; null for the default certificate. */
export function sniAnswer(name: string, c: TlsCertificate | null | undefined): { cert: Uint8Array; key: Uint8Array } | null {
  if (c === undefined || c === null) return null;
  if (typeof c !== 'object') throw new TypeError(`tls.sni('${name}') must return { cert, key }, null or undefined (got ${typeof c})`);
  const cert = pemBytes(`sni('${name}').cert`, c.cert);
  const key = pemBytes(`sni('${name}').key`, c.key);
  if (cert === null || key === null) throw new TypeError(`tls.sni('${name}') returned no cert or key`);
  return { cert, key };
}

// Client contexts are built once per options object (per thread): loading
// the CA bundle costs milliseconds, a connect should not.
const clientContexts = new WeakMap<TlsClientOptions, TlsContextHandle>();
let bundledRoots: Uint8Array | undefined;

// node:crypto and node:tls are loaded when TLS is used: every loop thread
// imports this module, and most servers speak plain TCP.
const load = createRequire(import.meta.url);

/** Node's bundled root CAs, loaded on first use. */
function nodeRoots(): Uint8Array {
  const { rootCertificates } = load('node:tls') as typeof import('node:tls');
  return new Uint8Array(Buffer.from(rootCertificates.join('\n')));
}

/** The OpenSSL context of a client connection: the CA (default Node's bundled roots), optional client certificate and ALPN. */
export function clientContext(o: TlsClientOptions): TlsContextHandle {
  let ctx = clientContexts.get(o);
  if (ctx !== undefined) return ctx;
  const ca = pemBytes('ca', o.ca) ?? (bundledRoots ??= nodeRoots());
  try {
    ctx = native.tlsContext(
      false,
      pemBytes('cert', o.cert),
      pemBytes('key', o.key),
      ca,
      alpnWire(o.alpn),
      o.rejectUnauthorized === false ? VERIFY_RECORD : VERIFY_REJECT,
      null,
      DEFAULT_CIPHERS,
    );
  } catch (err) {
    throw new TlsError('ERR_TLS_CONFIG', `TLS client: ${(err as Error).message}`);
  }
  clientContexts.set(o, ctx);
  return ctx;
}

export function resolveTlsServer(o: TlsServerOptions, defaults: { alpn?: string[]; plainHttpReply?: string } = {}): TlsServerConfig {
  if (o === null || typeof o !== 'object') throw new TypeError('tls must be an object { cert, key }');
  const cert = pemBytes('cert', o.cert);
  const key = pemBytes('key', o.key);
  if (cert === null || key === null) throw new TypeError('tls needs both cert and key (PEM strings or Buffers)');
  const sni: TlsServerConfig['sni'] = [];
  const sniCallback = typeof o.sni === 'function';
  if (o.sni !== undefined && !sniCallback && (o.sni === null || typeof o.sni !== 'object')) {
    throw new TypeError('tls.sni must be a map { name: { cert, key } } or a function (servername) => { cert, key } | undefined');
  }
  for (const [name, c] of sniCallback ? [] : Object.entries(o.sni ?? {})) {
    if (!/^(\*\.)?[A-Za-z0-9.-]{1,253}$/.test(name)) throw new TypeError(`tls.sni: invalid server name ${JSON.stringify(name)}`);
    const sc = pemBytes(`sni['${name}'].cert`, c?.cert);
    const sk = pemBytes(`sni['${name}'].key`, c?.key);
    if (sc === null || sk === null) throw new TypeError(`tls.sni['${name}'] needs cert and key`);
    sni.push({ name, cert: sc, key: sk });
  }
  const requestCert = o.requestCert ?? false;
  const ca = pemBytes('ca', o.ca);
  if (requestCert && ca === null && o.rejectUnauthorized !== false) {
    throw new TypeError('tls.requestCert needs tls.ca (the CA that signs client certificates), or rejectUnauthorized: false');
  }
  const hpt = positive('handshakesPerTurn', o.handshakesPerTurn, 32);
  if (!Number.isInteger(hpt)) throw new RangeError('tls.handshakesPerTurn must be an integer');
  const cfg: TlsServerConfig = {
    cert,
    key,
    ca,
    sni,
    sniCallback,
    alpn: alpnWire(o.alpn ?? defaults.alpn),
    verify: !requestCert ? VERIFY_NONE : o.rejectUnauthorized === false ? VERIFY_RECORD : VERIFY_REJECT,
    // Every loop of the server shares these keys: a ticket issued by one loop resumes on another.
    ticketKeys: new Uint8Array((load('node:crypto') as typeof import('node:crypto')).randomBytes(80)),
    ciphers: o.ciphers ?? DEFAULT_CIPHERS,
    handshakeTimeout: positive('handshakeTimeout', o.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT),
    handshakesPerTurn: hpt,
    plainHttpReply: defaults.plainHttpReply ?? null,
  };
  serverContext(cfg); // fails here, on the caller's thread, with OpenSSL's reason
  return cfg;
}
