/**
 * The access log of one loop: a line per response, in common log format,
 * combined (CLF plus referer and user agent) or JSON lines. Off the hot path:
 * a response only appends its line to an array; lines gather over loop turns
 * (nginx's `buffer=`/`flush=`) and go out together in one write() at the end
 * of the turn that brings them to BATCH_BYTES, or FLUSH_MS after the first of
 * them, or at close: under load a write carries hundreds of lines, not the
 * one or two a turn holds. As nginx's, the write is synchronous (a regular
 * file takes it from the page cache). Memory is
 * bounded: when the target does not take the lines (a full pipe), at most
 * MAX_PENDING bytes wait and later lines are counted as dropped.
 * Thread: its loop's. Owns its file descriptor (not stdout's).
 */
import fs from 'node:fs';
import type { EventLoop } from '../reactor/EventLoop.js';
import type { Timer } from '../reactor/TimerQueue.js';
import type { HttpRequest } from './request.js';

export type AccessLogFormat = 'common' | 'combined' | 'json';
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['common', 'combined', 'json'];

export interface AccessLogOptions {
  /** A file (appended to, created if missing), or '-' for standard output. */
  path: string;
  /** Default 'common'. */
  format?: AccessLogFormat;
}

/** What one response leaves in the log. */
export interface AccessEntry {
  req: HttpRequest | undefined;
  /** The client (req.remoteAddress; the TCP peer for a request refused before its head was read). */
  remote: string | undefined;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Milliseconds from the request head to the end of the response. */
  ms: number;
}

/** Lines waiting beyond this (a target that stopped taking them) are dropped and counted. */
const MAX_PENDING = 1024 * 1024;
/** Writes to a pipe stay within PIPE_BUF, so lines from several loop threads never interleave. */
const PIPE_BUF = 4096;
const RETRY_MS = 50;
/** Lines wait at most this long for company... */
const FLUSH_MS = 50;
/** ...or until this many bytes wait (a loop turn's worth is flushed at its end). */
const BATCH_BYTES = 32 * 1024;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function resolveAccessLog(o: string | AccessLogOptions | undefined): Required<AccessLogOptions> | undefined {
  if (o === undefined) return undefined;
  const path = typeof o === 'string' ? o : o?.path;
  const format = (typeof o === 'string' ? undefined : o.format) ?? 'common';
  if (typeof path !== 'string' || path === '') throw new RangeError(`accessLog must be a file path or '-' (standard output), got ${JSON.stringify(path)}`);
  if (!ACCESS_LOG_FORMATS.includes(format)) throw new RangeError(`accessLog.format must be one of ${ACCESS_LOG_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  return { path, format };
}

export class AccessLog {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  /** Regular files take a write whole; pipes and terminals only up to PIPE_BUF atomically. */
  private readonly isFile: boolean;
  private lines: string[] = [];
  private pendingBytes = 0;
  private carry: Buffer | null = null;
  private scratch = Buffer.allocUnsafe(BATCH_BYTES * 2);
  /** A flush is queued for the end of this loop turn (BATCH_BYTES reached). */
  private scheduled = false;
  /** The FLUSH_MS deadline of the oldest waiting line. */
  private deadline: Timer | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Lines dropped because the target did not take them. */
  dropped = 0;
  private clfSecond = -1;
  private clfTime = '';
  private isoMs = -1;
  private isoTime = '';
  private readonly format: AccessLogFormat;

  constructor(
    private readonly loop: EventLoop,
    options: Required<AccessLogOptions>,
    private readonly onError: (err: unknown) => void,
  ) {
    this.format = options.format;
    if (options.path === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      this.fd = fs.openSync(options.path, 'a', 0o644);
      this.ownsFd = true;
    }
    this.isFile = fs.fstatSync(this.fd).isFile();
  }

  record(e: AccessEntry): void {
    if (this.closed) return;
    const line = this.format === 'json' ? this.json(e) : this.clf(e, this.format === 'combined');
    if (this.pendingBytes + line.length > MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.lines.push(line);
    this.pendingBytes += line.length;
    if (this.retry !== undefined) return; // the retry writes it
    if (this.pendingBytes >= BATCH_BYTES) {
      if (!this.scheduled) {
        this.scheduled = true;
        this.loop.queueInLoop(this.flush);
      }
    } else {
      this.deadline ??= this.loop.runAfter(FLUSH_MS, this.flush);
    }
  }

  /** Writes what is pending, now: at the end of a turn that filled a batch, at the deadline, at close. */
  readonly flush = (): void => {
    this.scheduled = false;
    this.deadline?.cancel();
    this.deadline = undefined;
    let data: Buffer;
    if (this.lines.length > 0) {
      const text = this.encodeLines();
      data = this.carry ? Buffer.concat([this.carry, text]) : text;
    } else if (this.carry) {
      data = this.carry;
    } else {
      return;
    }
    this.carry = null;
    let off = 0;
    try {
      while (off < data.length) {
        let end = data.length;
        if (!this.isFile && end - off > PIPE_BUF) {
          const cut = data.lastIndexOf(0x0a, off + PIPE_BUF - 1);
          end = cut >= off ? cut + 1 : off + PIPE_BUF; // a single line longer than PIPE_BUF goes in pieces
        }
        off += fs.writeSync(this.fd, data, off, end - off);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.carry = Buffer.from(data.subarray(off)); // a copy: `data` may be the reused scratch
      this.pendingBytes = this.carry.length;
      if (code === 'EAGAIN' && !this.closed) {
        // A non-blocking pipe that is full: try again soon, keep (boundedly) what waits.
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          this.flush();
        }, RETRY_MS);
        return;
      }
      this.carry = null;
      this.pendingBytes = 0;
      this.onError(err);
      return;
    }
    this.pendingBytes = 0;
  };

  /**
   * The waiting lines as UTF-8, in a scratch buffer reused from one write to
   * the next (no joined string, no new buffer per write); valid until the next call.
   */
  private encodeLines(): Buffer {
    // CLF lines are ASCII (clfQuote escapes the rest): latin1, one byte per unit, is the cheap copy.
    const json = this.format === 'json';
    const need = json ? this.pendingBytes * 3 : this.pendingBytes; // UTF-8: at most 3 bytes per UTF-16 unit
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, 2 * this.scratch.length));
    const buf = this.scratch;
    let used = 0;
    if (json) for (const line of this.lines) used += buf.write(line, used, 'utf8');
    else for (const line of this.lines) used += buf.write(line, used, 'latin1');
    this.lines = [];
    return buf.subarray(0, used);
  }

  /** Flushes and closes the file (the server stopped on this loop). */
  close(): void {
    if (this.closed) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.flush();
    this.closed = true;
    if (this.ownsFd) fs.closeSync(this.fd);
  }

  // ---- formats --------------------------------------------------------------

  /** `127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 2326` (+ ` "referer" "agent"`) */
  private clf(e: AccessEntry, combined: boolean): string {
    const req = e.req;
    const host = e.remote ?? '-';
    const request = req ? clfQuote(`${req.method} ${req.url} HTTP/${req.httpVersion}`) : '-';
    let line = `${host} - - [${this.clfNow()}] "${request}" ${e.status} ${e.bytes > 0 ? e.bytes : '-'}`;
    if (combined) {
      const referer = req?.headers.get('referer');
      const agent = req?.headers.get('user-agent');
      line += ` "${referer === undefined ? '-' : clfQuote(referer)}" "${agent === undefined ? '-' : clfQuote(agent)}"`;
    }
    return `${line}\n`;
  }

  private json(e: AccessEntry): string {
    const req = e.req;
    const o: Record<string, string | number | null> = {
      time: this.isoNow(),
      remote: e.remote ?? null,
      method: req?.method ?? null,
      url: req?.url ?? null,
      version: req ? `HTTP/${req.httpVersion}` : null,
      status: e.status,
      bytes: e.bytes,
      ms: Math.round(e.ms * 1000) / 1000,
      referer: req?.headers.get('referer') ?? null,
      agent: req?.headers.get('user-agent') ?? null,
    };
    return `${JSON.stringify(o)}\n`;
  }

  private clfNow(): string {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    if (sec !== this.clfSecond) {
      const d = new Date(sec * 1000);
      const p2 = (n: number) => String(n).padStart(2, '0');
      this.clfTime = `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
      this.clfSecond = sec;
    }
    return this.clfTime;
  }

  private isoNow(): string {
    const now = Date.now();
    if (now !== this.isoMs) {
      this.isoTime = new Date(now).toISOString();
      this.isoMs = now;
    }
    return this.isoTime;
  }
}

/** Inside a CLF quoted field: `"` and `\` escaped, control and non-ASCII bytes as \xHH (as Apache does). */
function clfQuote(s: string): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${s[i]}`;
    else if (c < 0x20 || c > 0x7e) out += `\\x${(c & 0xff).toString(16).padStart(2, '0')}`;
    else out += s[i];
  }
  return out;
}
