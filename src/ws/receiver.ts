/**
 * The frame parser of one WebSocket connection (RFC 6455 5): bytes in,
 * whole messages and control frames out. Payload is unmasked in place as it
 * arrives and taken out of the input at once, so the reactor buffer never
 * holds more than a partial header; a message that spans reads or fragments
 * is collected in `parts`, bounded by maxPayloadLength. Text is validated as
 * it arrives, so invalid UTF-8 fails the connection at the first bad byte,
 * not at the end of the message.
 * Thread: the loop thread of its connection. Owns the message being collected.
 */
import { isUtf8 } from 'node:buffer';
import { CloseCode, isValidCloseCode, readHeader, type FrameHeader, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT } from './frame.js';
import { InflateTooBig, type DeflateCodec } from './deflate.js';
import { decodeUtf8, Utf8Validator } from './utf8.js';

export interface ReceiverSink {
  /** A whole text message, validated and decoded. */
  onText(text: string): void;
  /** A whole binary message, d[s, e). `owned`: d is a private copy; else it is the input, valid only during the call. */
  onBinary(d: Uint8Array, s: number, e: number, owned: boolean): void;
  onPing(payload: Uint8Array): void;
  onPong(payload: Uint8Array): void;
  /** The peer's close frame (a valid one). */
  onPeerClose(code: number, reason: string): void;
  /** The peer broke the protocol: close with `code`. */
  onViolation(code: number, reason: string): void;
  /** Stop after the current message (input paused) or for good (closed). */
  readonly holdInput: boolean;
}

const S_HEADER = 0;
const S_PAYLOAD = 1;
const S_DONE = 2;

export class Receiver {
  private state = S_HEADER;
  private op = 0;
  private fin = false;
  private remaining = 0;
  private readonly hdr: FrameHeader = { first: 0, masked: false, size: 0, length: 0 };
  private readonly mask = new Uint8Array(4);
  private maskPos = 0;
  /** The data message being collected: its opcode (0 = none), compression and parts. */
  private msgOp = 0;
  private msgCompressed = false;
  private msgLen = 0;
  private parts: Uint8Array[] = [];
  private readonly utf8 = new Utf8Validator();
  private readonly ctrl = new Uint8Array(125);
  private ctrlLen = 0;

  constructor(
    private readonly sink: ReceiverSink,
    private readonly maxPayload: number,
    /** Set when permessage-deflate was negotiated: RSV1 then marks a compressed message. */
    private readonly codec: DeflateCodec | null,
  ) {}

  /** Bytes the parser holds for an unfinished message. */
  get bufferedBytes(): number {
    return this.msgLen;
  }

  /** Stops for good: later input is ignored. */
  finish(): void {
    this.state = S_DONE;
    this.parts = [];
    this.msgLen = 0;
  }

  /** Parses d[pos, end); returns how far it consumed (a partial header, or input held back, stays). */
  feed(d: Uint8Array, pos: number, end: number): number {
    const sink = this.sink;
    while (pos < end) {
      if (this.state === S_PAYLOAD) {
        const n = Math.min(this.remaining, end - pos);
        this.payload(d, pos, pos + n);
        pos += n;
        this.remaining -= n;
        if (this.remaining > 0) break;
        this.frameEnd();
        if (sink.holdInput) break;
        continue;
      }
      if (this.state === S_DONE) return end;
      // S_HEADER
      if (sink.holdInput) break;
      if (!readHeader(d, pos, end, this.hdr)) break;
      const hdr = this.hdr.size;
      // (An unmasked header is 4 bytes shorter: header() refuses it as soon as it is whole.)
      if (!this.header(this.hdr.first, d[pos + 1]!)) return end;
      const len = this.hdr.length;
      if (len < 0) {
        this.violation(CloseCode.ProtocolError, 'frame length has its top bit set');
        return end;
      }
      const m = pos + hdr - 4;
      if (this.op < 8) {
        if (this.msgLen + len > this.maxPayload) {
          this.violation(CloseCode.TooBig, `message larger than maxPayloadLength (${this.maxPayload} bytes)`);
          return end;
        }
      }
      this.mask[0] = d[m]!;
      this.mask[1] = d[m + 1]!;
      this.mask[2] = d[m + 2]!;
      this.mask[3] = d[m + 3]!;
      this.maskPos = 0;
      pos += hdr;
      this.remaining = len;
      this.state = S_PAYLOAD;
      if (this.op < 8 && this.fin && this.msgLen === 0 && !this.msgCompressed && end - pos >= len) {
        // The common case: a whole unfragmented message in this read. No copy before the handler.
        this.unmask(d, pos, pos + len);
        this.state = S_HEADER;
        this.remaining = 0;
        const binary = this.msgOp === OP_BINARY;
        this.msgOp = 0;
        const s = pos;
        pos += len;
        if (binary) {
          sink.onBinary(d, s, pos, false);
          continue;
        }
        const text = decodeUtf8(d, s, pos);
        if (text === null) {
          this.violation(CloseCode.InvalidData, 'invalid UTF-8 in a text message');
          return end;
        }
        sink.onText(text);
        continue;
      }
      if (len === 0) {
        this.state = S_HEADER;
        this.frameEnd();
      }
    }
    return pos;
  }

  /** Validates a frame's first two bytes; false after failing the connection. */
  private header(b0: number, b1: number): boolean {
    const op = b0 & 0x0f;
    const rsv1 = (b0 & 0x40) !== 0;
    if ((b0 & 0x30) !== 0) return this.fail(CloseCode.ProtocolError, 'RSV2/RSV3 set without an extension that defines them');
    if ((b1 & 0x80) === 0) return this.fail(CloseCode.ProtocolError, 'client frames must be masked');
    this.fin = (b0 & 0x80) !== 0;
    this.op = op;
    if (op >= 8) {
      if (op > OP_PONG) return this.fail(CloseCode.ProtocolError, `reserved control opcode ${op}`);
      if (!this.fin) return this.fail(CloseCode.ProtocolError, 'fragmented control frame');
      if ((b1 & 0x7f) > 125) return this.fail(CloseCode.ProtocolError, 'control frame payload over 125 bytes');
      if (rsv1) return this.fail(CloseCode.ProtocolError, 'RSV1 set on a control frame');
      this.ctrlLen = 0;
      return true;
    }
    if (op === OP_CONT) {
      if (this.msgOp === 0) return this.fail(CloseCode.ProtocolError, 'continuation frame without a message to continue');
      if (rsv1) return this.fail(CloseCode.ProtocolError, 'RSV1 set on a continuation frame');
      return true;
    }
    if (op !== OP_TEXT && op !== OP_BINARY) return this.fail(CloseCode.ProtocolError, `reserved data opcode ${op}`);
    if (this.msgOp !== 0) return this.fail(CloseCode.ProtocolError, 'new message before the previous one ended');
    if (rsv1 && this.codec === null) return this.fail(CloseCode.ProtocolError, 'RSV1 set but permessage-deflate was not negotiated');
    this.msgOp = op;
    this.msgCompressed = rsv1;
    this.utf8.reset();
    return true;
  }

  private unmask(d: Uint8Array, s: number, e: number): void {
    const m = this.mask;
    let k = this.maskPos;
    let i = s;
    // Align to the mask, then four bytes per round.
    while (i < e && k !== 0) {
      d[i++]! ^= m[k]!;
      k = (k + 1) & 3;
    }
    const m0 = m[0]!;
    const m1 = m[1]!;
    const m2 = m[2]!;
    const m3 = m[3]!;
    const stop = e - 3;
    while (i < stop) {
      d[i]! ^= m0;
      d[i + 1]! ^= m1;
      d[i + 2]! ^= m2;
      d[i + 3]! ^= m3;
      i += 4;
    }
    while (i < e) {
      d[i++]! ^= m[k]!;
      k = (k + 1) & 3;
    }
    this.maskPos = k;
  }

  /** Some payload bytes of the current frame. */
  private payload(d: Uint8Array, s: number, e: number): void {
    if (s === e) return;
    this.unmask(d, s, e);
    if (this.op >= 8) {
      this.ctrl.set(d.subarray(s, e), this.ctrlLen);
      this.ctrlLen += e - s;
      return;
    }
    if (this.msgOp === OP_TEXT && !this.msgCompressed && !this.utf8.feed(d, s, e)) {
      this.violation(CloseCode.InvalidData, 'invalid UTF-8 in a text message');
      return;
    }
    this.parts.push(d.slice(s, e));
    this.msgLen += e - s;
  }

  private frameEnd(): void {
    this.state = this.state === S_DONE ? S_DONE : S_HEADER;
    if (this.state === S_DONE) return;
    const op = this.op;
    if (op >= 8) return this.control(op, this.ctrl.subarray(0, this.ctrlLen));
    if (!this.fin) return;
    const binary = this.msgOp === OP_BINARY;
    const compressed = this.msgCompressed;
    const parts = this.parts;
    const len = this.msgLen;
    this.msgOp = 0;
    this.msgCompressed = false;
    this.parts = [];
    this.msgLen = 0;
    let data: Uint8Array;
    if (compressed) {
      try {
        data = this.codec!.inflate(parts, this.maxPayload);
      } catch (err) {
        if (err instanceof InflateTooBig) this.violation(CloseCode.TooBig, `message larger than maxPayloadLength (${this.maxPayload} bytes) after decompression`);
        else this.violation(CloseCode.InvalidData, 'invalid compressed data');
        return;
      }
      if (!binary && !isUtf8(data)) return this.violation(CloseCode.InvalidData, 'invalid UTF-8 in a text message');
    } else {
      if (!binary && !this.utf8.complete) return this.violation(CloseCode.InvalidData, 'text message ends inside a UTF-8 sequence');
      data = parts.length === 1 ? parts[0]! : globalThis.Buffer.concat(parts, len);
    }
    if (binary) this.sink.onBinary(data, 0, data.length, true);
    else this.sink.onText(globalThis.Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'));
  }

  private control(op: number, p: Uint8Array): void {
    if (op === OP_PING) return this.sink.onPing(p);
    if (op === OP_PONG) return this.sink.onPong(p);
    if (op !== OP_CLOSE) return;
    if (p.length === 1) return this.violation(CloseCode.ProtocolError, 'close frame with a 1-byte payload');
    let code: number = CloseCode.NoStatus;
    let reason = '';
    if (p.length >= 2) {
      code = (p[0]! << 8) | p[1]!;
      if (!isValidCloseCode(code)) return this.violation(CloseCode.ProtocolError, `invalid close code ${code}`);
      const r = p.subarray(2);
      if (!isUtf8(r)) return this.violation(CloseCode.InvalidData, 'invalid UTF-8 in the close reason');
      reason = globalThis.Buffer.from(r.buffer, r.byteOffset, r.length).toString('utf8');
    }
    this.finish();
    this.sink.onPeerClose(code, reason);
  }

  private fail(code: number, reason: string): false {
    this.violation(code, reason);
    return false;
  }

  private violation(code: number, reason: string): void {
    this.finish();
    this.sink.onViolation(code, reason);
  }
}
