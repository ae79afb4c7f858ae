/**
 * Test helper: runs the request parser over bytes delivered in pieces, the
 * way a connection does (unconsumed bytes are kept and re-offered with the
 * next piece), and collects what it saw. Thread: the test's.
 */
import { HttpError } from '../../src/http/parser/errors.js';
import { resolveLimits, type ParserLimits } from '../../src/http/parser/limits.js';
import { EV_BODY, EV_HEAD, EV_HEAD_ONLY, EV_MESSAGE_END, EV_NEED_MORE, RequestParser, type RequestHead } from '../../src/http/parser/request-parser.js';

export interface ParsedMessage {
  head: RequestHead;
  body: Buffer;
  complete: boolean;
}

export interface ParseOutcome {
  messages: ParsedMessage[];
  error: HttpError | null;
  /** Bytes left unconsumed at the end (a partial request). */
  leftover: number;
}

export function parsePieces(pieces: Uint8Array[], limits?: Partial<ParserLimits>): ParseOutcome {
  const parser = new RequestParser(resolveLimits(limits));
  const messages: ParsedMessage[] = [];
  let held = Buffer.alloc(0);
  let current: { head: RequestHead; chunks: Buffer[] } | null = null;
  for (const piece of pieces) {
    held = Buffer.concat([held, piece]);
    let pos = 0;
    for (;;) {
      let ev;
      try {
        ev = parser.execute(held, pos, held.length);
      } catch (err) {
        if (current) messages.push({ head: current.head, body: Buffer.concat(current.chunks), complete: false });
        if (err instanceof HttpError) return { messages, error: err, leftover: 0 };
        throw err;
      }
      pos = parser.pos;
      if (ev === EV_NEED_MORE) break;
      if (ev === EV_HEAD_ONLY) messages.push({ head: parser.head!, body: Buffer.alloc(0), complete: true });
      else if (ev === EV_HEAD) current = { head: parser.head!, chunks: [] };
      else if (ev === EV_BODY) current!.chunks.push(Buffer.from(held.subarray(parser.bodyStart, parser.bodyEnd)));
      else if (ev === EV_MESSAGE_END) {
        messages.push({ head: current!.head, body: Buffer.concat(current!.chunks), complete: true });
        current = null;
      }
    }
    held = held.subarray(pos);
  }
  if (current) messages.push({ head: current.head, body: Buffer.concat(current.chunks), complete: false });
  return { messages, error: null, leftover: held.length };
}

export function parseString(s: string | Uint8Array, limits?: Partial<ParserLimits>): ParseOutcome {
  return parsePieces([typeof s === 'string' ? Buffer.from(s, 'latin1') : s], limits);
}

/** Splits bytes into pieces at the given cut points. */
export function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const sorted = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

export function headerValue(head: RequestHead, name: string): string | undefined {
  for (let i = 0; i < head.headers.length; i += 2) if (head.headers[i] === name) return head.headers[i + 1];
  return undefined;
}
