/**
 * What every loop of a server must know about the server as a whole: whether
 * it is draining (about to stop, reload or hand over its listeners) and which
 * readiness checks fail. Thread: written by the thread that owns the
 * TcpServer, read by every loop thread. Owns one small SharedArrayBuffer.
 *
 * The failing names are published under a sequence lock: a reader on another
 * thread never sees half of one list and half of the next.
 */
const DRAINING = 0;
const FAILING = 1;
const NAMES_LEN = 2;
const SEQ = 3;
const HEADER_BYTES = 16;
const NAMES_BYTES = 1024;

export type HealthState = 'serving' | 'draining' | 'unready';

export interface HealthStatus {
  status: HealthState;
  /** Names of the readiness checks failing now (empty while serving). */
  failing: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ServerState {
  private readonly ints: Int32Array;
  private readonly names: Uint8Array;

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(HEADER_BYTES + NAMES_BYTES);
  }

  constructor(readonly sab: SharedArrayBuffer = ServerState.allocate()) {
    this.ints = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.names = new Uint8Array(sab, HEADER_BYTES, NAMES_BYTES);
  }

  get draining(): boolean {
    return Atomics.load(this.ints, DRAINING) !== 0;
  }

  setDraining(on: boolean): void {
    Atomics.store(this.ints, DRAINING, on ? 1 : 0);
  }

  /** Publishes the failing checks (their names are cut to fit 1 KiB in all). */
  setFailing(failing: readonly string[]): void {
    let bytes = encoder.encode(failing.join('\n'));
    if (bytes.length > NAMES_BYTES) bytes = bytes.subarray(0, NAMES_BYTES);
    Atomics.add(this.ints, SEQ, 1); // odd: a write is under way
    this.names.set(bytes);
    Atomics.store(this.ints, NAMES_LEN, bytes.length);
    Atomics.store(this.ints, FAILING, failing.length);
    Atomics.add(this.ints, SEQ, 1);
  }

  get ready(): boolean {
    return Atomics.load(this.ints, FAILING) === 0;
  }

  failing(): string[] {
    for (let tries = 0; tries < 100; tries++) {
      const seq = Atomics.load(this.ints, SEQ);
      if (seq % 2 !== 0) continue;
      const len = Atomics.load(this.ints, NAMES_LEN);
      const copy = this.names.slice(0, len);
      if (Atomics.load(this.ints, SEQ) === seq) return len === 0 ? [] : decoder.decode(copy).split('\n');
    }
    return ['(being updated)'];
  }

  health(): HealthStatus {
    if (this.draining) return { status: 'draining', failing: [] };
    if (this.ready) return { status: 'serving', failing: [] };
    return { status: 'unready', failing: this.failing() };
  }
}
