/**
 * Test helpers that speak HTTP/1.1 over raw node:net sockets: send exact
 * bytes (malformed on purpose), read back and parse the responses strictly.
 * Thread: the test's. Owns the sockets it opens (always destroyed).
 */
import net from 'node:net';

export interface WireResponse {
  status: number;
  reason: string;
  /** Lowercased names, in order. */
  headers: [string, string][];
  body: Buffer;
  get(name: string): string | undefined;
}

export interface Exchange {
  responses: WireResponse[];
  /** The server closed (FIN or RST) before we stopped reading. */
  closed: boolean;
  raw: Buffer;
}

export interface ExchangeOptions {
  /** Stop after this many complete responses (default: read until the server closes). */
  responses?: number;
  /** Which requests were HEAD (their responses have no body), by index. */
  head?: boolean[];
  /** Give up after this many ms (default 5000); the exchange then reports what it has. */
  timeout?: number;
  /** Half-close our side after writing. */
  end?: boolean;
}

/** Parses as many complete responses as `buf` holds. Interim 1xx responses are included. */
export function parseResponses(buf: Buffer, head: boolean[] = [], closed = false): { responses: WireResponse[]; rest: number } {
  const responses: WireResponse[] = [];
  let pos = 0;
  let finals = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const lines = buf.subarray(pos, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) throw new Error(`malformed status line: ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers: [string, string][] = lines.slice(1).map((l) => {
      const i = l.indexOf(':');
      if (i <= 0) throw new Error(`malformed header line: ${JSON.stringify(l)}`);
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
    });
    const get = (n: string): string | undefined => headers.find(([k]) => k === n.toLowerCase())?.[1];
    let p = headEnd + 4;
    let body: Buffer;
    const isHead = status >= 200 && head[finals] === true;
    if (status < 200 || status === 204 || status === 304 || isHead) {
      body = Buffer.alloc(0);
    } else if (get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let done = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0]!, 16);
        if (Number.isNaN(size)) throw new Error('malformed chunk size in response');
        if (size === 0) {
          if (buf.length < le + 4) break;
          if (buf[le + 2] === 0x0d && buf[le + 3] === 0x0a) {
            p = le + 4;
          } else {
            const te = buf.indexOf('\r\n\r\n', le + 2);
            if (te < 0) break;
            p = te + 4;
          }
          done = true;
          break;
        }
        if (le + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!done) break;
      body = Buffer.concat(parts);
    } else if (get('content-length') !== undefined) {
      const n = Number(get('content-length'));
      if (p + n > buf.length) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else {
      if (!closed) break; // close-delimited: complete only at close
      body = buf.subarray(p);
      p = buf.length;
    }
    responses.push({ status, reason: m[2]!, headers, body: Buffer.from(body), get });
    if (status >= 200) finals++;
    pos = p;
  }
  return { responses, rest: pos };
}

/** Connects, writes `data` (pieces written separately), reads responses. */
export function exchange(port: number, data: string | Buffer | (string | Buffer)[], opts: ExchangeOptions = {}): Promise<Exchange> {
  const pieces = Array.isArray(data) ? data : [data];
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      const raw = Buffer.concat(chunks);
      try {
        resolve({ responses: parseResponses(raw, opts.head, closed).responses, closed, raw });
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(finish, opts.timeout ?? 5000);
    sock.on('connect', () => {
      for (const p of pieces) sock.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
      if (opts.end) sock.end();
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.responses !== undefined) {
        const finals = parseResponses(Buffer.concat(chunks), opts.head).responses.filter((r) => r.status >= 200).length;
        if (finals >= opts.responses) finish();
      }
    });
    sock.on('error', () => {
      closed = true;
      finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** One request on a fresh connection: the first final response (throws if none). */
export async function request1(port: number, data: string | Buffer, opts: ExchangeOptions = {}): Promise<WireResponse & { closed: boolean }> {
  const ex = await exchange(port, data, { responses: 1, ...opts });
  const r = ex.responses.find((x) => x.status >= 200);
  if (!r) throw new Error(`no response; got ${JSON.stringify(ex.raw.toString('latin1').slice(0, 200))} (closed=${ex.closed})`);
  return Object.assign(r, { closed: ex.closed });
}

/** Expects the server to answer `status` and close the connection. */
export async function expectErrorAndClose(port: number, data: string | Buffer, status: number): Promise<WireResponse> {
  const ex = await exchange(port, data, { timeout: 5000 });
  const r = ex.responses.find((x) => x.status >= 200);
  if (!r) throw new Error(`expected ${status}, got no response (closed=${ex.closed}, raw=${JSON.stringify(ex.raw.toString('latin1').slice(0, 200))})`);
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status} ${r.reason}`);
  if (r.get('connection') !== 'close') throw new Error('error response without Connection: close');
  if (!ex.closed) throw new Error('the server did not close the connection after an error');
  return r;
}

/** A connected socket with a promise-based reader, for step-by-step conversations. */
export async function openSocket(port: number): Promise<{
  sock: net.Socket;
  /** Resolves with everything received once `pred(buffer)` holds (or rejects after timeout). */
  until(pred: (b: Buffer) => boolean, timeout?: number): Promise<Buffer>;
  received(): Buffer;
  closed(): Promise<void>;
  isClosed(): boolean;
}> {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  const chunks: Buffer[] = [];
  let size = 0;
  let flat = Buffer.alloc(0);
  const current = (): Buffer => {
    if (flat.length !== size) flat = Buffer.concat(chunks, size);
    return flat;
  };
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  sock.on('data', (d: Buffer) => {
    chunks.push(d);
    size += d.length;
    wake();
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    closed = true;
    wake();
  });
  return {
    sock,
    received: current,
    isClosed: () => closed,
    until(pred, timeout = 5000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out; received ${JSON.stringify(current().toString('latin1').slice(0, 300))}`)), timeout);
        const check = (): void => {
          const buf = current();
          if (pred(buf)) {
            clearTimeout(t);
            resolve(buf);
          } else if (closed) {
            clearTimeout(t);
            reject(new Error(`connection closed; received ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    closed() {
      return new Promise((resolve) => {
        if (closed) resolve();
        else sock.once('close', () => resolve());
      });
    },
  };
}
