/**
 * Pub/sub across loops. Topics belong to the server: every loop (and the
 * thread that started the server) can publish, and a message reaches every
 * subscriber on every loop exactly once, in publish order per publisher.
 *
 * - Each loop has an inbox: a byte ring in a SharedArrayBuffer plus an
 *   eventfd its epoll watches (the LoopQueue design, with payload bytes
 *   instead of int32 messages). A publish writes the message once into each
 *   other loop's ring (one copy per loop, not per subscriber); the loop
 *   builds one frame and sends it to its own subscribers.
 * - Subscriber counts per topic and loop live in a shared hash table, so a
 *   publish skips loops with no subscriber and `subscriberCount()` is exact
 *   and synchronous from any thread.
 * - A full ring never drops: the rest waits in the publisher's own backlog,
 *   in order, and is retried. A message larger than a quarter of a ring
 *   crosses in pieces, reassembled per publisher.
 *
 * Thread: one Bus object per thread (each loop thread, and the server's
 * thread); the shared memory is written only with Atomics under a spin lock
 * per ring / per table insert. Owns its backlog; the eventfds are owned by the
 * server (createBus/closeBus).
 */
import { native } from '../native/binding.js';
import { check } from '../native/errors.js';
import type { EventLoop } from '../reactor/EventLoop.js';

export interface BusHandles {
  loops: number;
  rings: { sab: SharedArrayBuffer; eventfd: number }[];
  counts: SharedArrayBuffer;
}

const RING_BYTES = 1 << 20;
const RING_HEADER = 16; // head, tail, lock (int32 each), pad
const SLOTS = 4096; // topics tracked at once (counts of topics beyond it are unknown: such publishes go everywhere)
const TABLE_HEADER = 4; // lock, full flag
const MAX_TOPIC_BYTES = 4096;
/** flags, 0, publisher (u16), topic length (u16), 0, 0; then the topic and the payload. */
const REC_HEADER = 8;
const F_BINARY = 1;
const F_MORE = 2;

export function createBus(loops: number): BusHandles {
  const rings = [];
  for (let i = 0; i < loops; i++) rings.push({ sab: new SharedArrayBuffer(RING_HEADER + RING_BYTES), eventfd: check(native.eventfd(), 'eventfd') });
  return { loops, rings, counts: new SharedArrayBuffer((TABLE_HEADER + SLOTS * (2 + loops)) * 4) };
}

export function closeBus(h: BusHandles): void {
  for (const r of h.rings) native.close(r.eventfd);
}

function lock(w: Int32Array, at: number): void {
  while (Atomics.compareExchange(w, at, 0, 1) !== 0) {
    // held for a few stores and one copy
  }
}

function hashes(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return [a | 1, b]; // h1 is never 0: 0 marks a free slot
}

/** Subscribers per (topic, loop) in shared memory. */
class TopicCounts {
  private readonly w: Int32Array;
  private readonly stride: number;

  constructor(
    sab: SharedArrayBuffer,
    private readonly loops: number,
  ) {
    this.w = new Int32Array(sab);
    this.stride = 2 + loops;
  }

  /** The slot's first word, or -1 (absent, or the table is full). */
  private find(topic: string, insert: boolean): number {
    const w = this.w;
    const [h1, h2] = hashes(topic);
    let i = h1 & (SLOTS - 1);
    for (let probe = 0; probe < SLOTS; probe++, i = (i + 1) & (SLOTS - 1)) {
      const base = TABLE_HEADER + i * this.stride;
      let a = Atomics.load(w, base);
      if (a === 0) {
        if (!insert) return -1;
        lock(w, 0);
        try {
          a = Atomics.load(w, base);
          if (a === 0) {
            Atomics.store(w, base + 1, h2);
            Atomics.store(w, base, h1);
            return base;
          }
        } finally {
          Atomics.store(w, 0, 0);
        }
      }
      if (a === h1 && Atomics.load(w, base + 1) === h2) return base;
    }
    if (insert) Atomics.store(w, 1, 1);
    return -1;
  }

  add(topic: string, loop: number, delta: number): void {
    const base = this.find(topic, true);
    if (base >= 0) Atomics.add(this.w, base + 2 + loop, delta);
  }

  total(topic: string): number {
    const base = this.find(topic, false);
    if (base < 0) return 0;
    let n = 0;
    for (let l = 0; l < this.loops; l++) n += Atomics.load(this.w, base + 2 + l);
    return n;
  }

  /** Whether `loop` may have subscribers (true when the table overflowed and cannot tell). */
  has(topic: string, loop: number): boolean {
    const base = this.find(topic, false);
    if (base < 0) return Atomics.load(this.w, 1) === 1;
    return Atomics.load(this.w, base + 2 + loop) > 0;
  }
}

/** One loop's inbox: variable-size records in a byte ring. */
class Ring {
  readonly w: Int32Array;
  readonly bytes: Uint8Array;

  constructor(
    sab: SharedArrayBuffer,
    readonly eventfd: number,
  ) {
    this.w = new Int32Array(sab, 0, RING_HEADER / 4);
    this.bytes = new Uint8Array(sab, RING_HEADER);
  }

  /** Writes one record; false when it does not fit now. */
  write(body: Uint8Array): boolean {
    const w = this.w;
    const need = 4 + ((body.length + 3) & ~3);
    lock(w, 2);
    try {
      const head = Atomics.load(w, 0);
      const tail = Atomics.load(w, 1);
      if (RING_BYTES - ((tail - head) | 0) < need) return false;
      const at = tail & (RING_BYTES - 1);
      new DataView(this.bytes.buffer, this.bytes.byteOffset).setInt32(at, body.length, true);
      this.copyIn((at + 4) & (RING_BYTES - 1), body);
      Atomics.store(w, 1, (tail + need) | 0);
    } finally {
      Atomics.store(w, 2, 0);
    }
    return true;
  }

  /** Wakes the consumer (once for every record written since the last call). */
  signal(): void {
    native.eventfdWrite(this.eventfd, 1);
  }

  private copyIn(at: number, src: Uint8Array): void {
    const first = Math.min(src.length, RING_BYTES - at);
    this.bytes.set(src.subarray(0, first), at);
    if (first < src.length) this.bytes.set(src.subarray(first), 0);
  }

  /** Consumer: every record, in order (each a fresh copy). */
  drain(fn: (body: Uint8Array) => void): void {
    native.eventfdRead(this.eventfd);
    const w = this.w;
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset);
    for (;;) {
      const head = Atomics.load(w, 0);
      if (head === Atomics.load(w, 1)) return;
      const at = head & (RING_BYTES - 1);
      const len = dv.getInt32(at, true);
      const body = new Uint8Array(len);
      const start = (at + 4) & (RING_BYTES - 1);
      const first = Math.min(len, RING_BYTES - start);
      body.set(this.bytes.subarray(start, start + first));
      if (first < len) body.set(this.bytes.subarray(0, len - first), first);
      Atomics.store(w, 0, (head + 4 + ((len + 3) & ~3)) | 0);
      fn(body);
    }
  }
}

type Deliver = (topic: string, payload: Uint8Array, binary: boolean) => void;

export class Bus {
  private readonly counts: TopicCounts;
  private readonly rings: Ring[];
  /** Records a full ring could not take yet, per target loop, in order. */
  private readonly backlog: Uint8Array[][];
  private retry: NodeJS.Timeout | null = null;
  /** Rings written this turn and not yet signalled: one wakeup per loop per turn, not per message. */
  private readonly unsignalled: boolean[];
  private signalQueued = false;
  /** Messages arriving in pieces, per publisher. */
  private readonly partial = new Map<number, { topic: string; binary: boolean; parts: Uint8Array[]; len: number }>();

  constructor(
    h: BusHandles,
    /** This thread's loop index, or h.loops for the server's own thread. */
    private readonly self: number,
  ) {
    this.counts = new TopicCounts(h.counts, h.loops);
    this.rings = h.rings.map((r) => new Ring(r.sab, r.eventfd));
    this.backlog = this.rings.map(() => []);
    this.unsignalled = this.rings.map(() => false);
  }

  count(topic: string, delta: number): void {
    this.counts.add(topic, this.self, delta);
  }

  subscriberCount(topic: string): number {
    return this.counts.total(topic);
  }

  /** Sends to the other loops that have subscribers; returns how many were sent to. */
  publish(topic: string, payload: Uint8Array, binary: boolean): number {
    let targets = 0;
    let records: Uint8Array[] | null = null;
    for (let i = 0; i < this.rings.length; i++) {
      if (i === this.self || !this.counts.has(topic, i)) continue;
      records ??= this.encode(topic, payload, binary);
      targets++;
      const q = this.backlog[i]!;
      let wrote = false;
      for (const r of records) {
        if (q.length > 0 || !this.rings[i]!.write(r)) q.push(r);
        else wrote = true;
      }
      if (wrote) this.signalSoon(i);
      if (q.length > 0) this.scheduleRetry();
    }
    return targets;
  }

  /** Watches this loop's inbox; each whole message goes to deliver. */
  attach(loop: EventLoop, deliver: Deliver): void {
    const ring = this.rings[this.self]!;
    const receive = (body: Uint8Array): void => this.receive(body, deliver, loop);
    const ch = loop.channel(ring.eventfd, { handleEvent: () => ring.drain(receive) });
    ch.enableReading();
  }

  private encode(topic: string, payload: Uint8Array, binary: boolean): Uint8Array[] {
    const t = globalThis.Buffer.from(topic, 'utf8');
    if (t.length > MAX_TOPIC_BYTES) throw new RangeError(`topic is ${t.length} bytes of UTF-8; at most ${MAX_TOPIC_BYTES} cross loops`);
    const room = (RING_BYTES >> 2) - REC_HEADER - t.length;
    const out: Uint8Array[] = [];
    let off = 0;
    do {
      const n = Math.min(room, payload.length - off);
      const more = off + n < payload.length;
      const r = new Uint8Array(REC_HEADER + t.length + n);
      r[0] = (binary ? F_BINARY : 0) | (more ? F_MORE : 0);
      r[2] = this.self & 0xff;
      r[3] = this.self >>> 8;
      r[4] = t.length & 0xff;
      r[5] = t.length >>> 8;
      r.set(t, REC_HEADER);
      r.set(payload.subarray(off, off + n), REC_HEADER + t.length);
      out.push(r);
      off += n;
    } while (off < payload.length);
    return out;
  }

  private receive(body: Uint8Array, deliver: Deliver, loop: EventLoop): void {
    const flags = body[0]!;
    const from = body[2]! | (body[3]! << 8);
    const tlen = body[4]! | (body[5]! << 8);
    const payload = body.subarray(REC_HEADER + tlen);
    const binary = (flags & F_BINARY) !== 0;
    let p = this.partial.get(from);
    if (p === undefined && (flags & F_MORE) === 0) {
      const topic = globalThis.Buffer.from(body.buffer, body.byteOffset + REC_HEADER, tlen).toString('utf8');
      return this.safely(loop, deliver, topic, payload, binary);
    }
    if (p === undefined) {
      p = { topic: globalThis.Buffer.from(body.buffer, body.byteOffset + REC_HEADER, tlen).toString('utf8'), binary, parts: [], len: 0 };
      this.partial.set(from, p);
    }
    p.parts.push(payload);
    p.len += payload.length;
    if ((flags & F_MORE) !== 0) return;
    this.partial.delete(from);
    const whole = globalThis.Buffer.concat(p.parts, p.len);
    const { topic } = p;
    this.safely(loop, deliver, topic, whole, p.binary);
  }

  /** deliver(), its exception reported to the loop (arguments passed through: no closure per message). */
  private safely(loop: EventLoop, deliver: Deliver, topic: string, payload: Uint8Array, binary: boolean): void {
    try {
      deliver(topic, payload, binary);
    } catch (err) {
      loop.reportError(err);
    }
  }

  /**
   * The consumer is woken once the current turn of this thread ends (a microtask runs right
   * after the loop's batch of events, or after the server thread's current task): every
   * record written until then is drained by that one wakeup.
   */
  private signalSoon(ring: number): void {
    this.unsignalled[ring] = true;
    if (this.signalQueued) return;
    this.signalQueued = true;
    queueMicrotask(this.signalAll);
  }

  private readonly signalAll = (): void => {
    this.signalQueued = false;
    for (let i = 0; i < this.rings.length; i++) {
      if (!this.unsignalled[i]) continue;
      this.unsignalled[i] = false;
      this.rings[i]!.signal();
    }
  };

  private scheduleRetry(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      let left = false;
      for (let i = 0; i < this.rings.length; i++) {
        const q = this.backlog[i]!;
        let k = 0;
        while (k < q.length && this.rings[i]!.write(q[k]!)) k++;
        if (k > 0) {
          q.splice(0, k);
          this.rings[i]!.signal();
        }
        if (q.length > 0) left = true;
      }
      if (left) this.scheduleRetry();
    }, 1);
  }
}
