/**
 * Classic BPF programs for listen sockets, attached through the addon's
 * attachBpf. Thread: any (they act on process-wide fds). Owns nothing.
 *
 * - `dropNewSyns`: a socket filter that drops SYNs and passes everything else.
 *   On a listener it stops new connections from entering the accept queue
 *   while handshakes already under way still complete: the queue can then be
 *   drained to empty before close(), which would reset whatever it still held.
 * - `reuseportSteering(n)`: a reuseport group program returning a socket index
 *   below n. The kernel uses the index into the group's sockets in the order
 *   they joined, so a group whose first n sockets are ours never hands a
 *   connection to a socket someone else added later.
 */
import { native, C } from '../native/binding.js';
import { SysError } from '../native/errors.js';

// Opcodes from <linux/filter.h>.
const LD_B_ABS = 0x30;
const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const ALU_MOD_K = 0x94;
const JEQ_K = 0x15;
const RET_K = 0x06;
const RET_A = 0x16;
const SKF_AD_OFF = -0x1000;
const SKF_AD_RXHASH = 32;
const TCP_FLAGS_OFFSET = 13; // a TCP socket filter sees the packet from the TCP header
const SYN = 0x02;
const ACK = 0x10;

type Insn = [code: number, jt: number, jf: number, k: number];

function program(insns: Insn[]): Uint32Array {
  const out = new Uint32Array(insns.length * 2);
  insns.forEach(([code, jt, jf, k], i) => {
    out[2 * i] = (code | (jt << 16) | (jf << 24)) >>> 0;
    out[2 * i + 1] = k >>> 0;
  });
  return out;
}

export const DROP_NEW_SYNS = program([
  [LD_B_ABS, 0, 0, TCP_FLAGS_OFFSET],
  [ALU_AND_K, 0, 0, SYN | ACK],
  [JEQ_K, 0, 1, SYN],
  [RET_K, 0, 0, 0], // a SYN without ACK: a new connection, dropped (the client retries its SYN)
  [RET_K, 0, 0, 0xffffffff],
]);

export function reuseportSteering(n: number): Uint32Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`reuseportSteering: n must be a positive integer, got ${n}`);
  if (n === 1) return program([[RET_K, 0, 0, 0]]);
  return program([
    [LD_W_ABS, 0, 0, SKF_AD_OFF + SKF_AD_RXHASH], // the flow hash: the NIC's, or the sender's on loopback
    [ALU_MOD_K, 0, 0, n],
    [RET_A, 0, 0, 0],
  ]);
}

/** New SYNs to this listener are dropped from now on; handshakes under way still complete. */
export function stopNewConnections(fd: number): void {
  const r = native.attachBpf(fd, C.SO_ATTACH_FILTER, DROP_NEW_SYNS);
  if (r < 0) throw new SysError(r, 'setsockopt(SO_ATTACH_FILTER)', `on listen fd ${fd}`);
}

/** Lets the listener take new connections again (a stop that was called off). */
export function resumeNewConnections(fd: number): void {
  native.setsockopt(fd, C.SOL_SOCKET, C.SO_DETACH_FILTER, 0);
}

/** Steers the reuseport group of `fd` to its first n sockets. */
export function steerToFirst(fd: number, n: number): void {
  const r = native.attachBpf(fd, C.SO_ATTACH_REUSEPORT_CBPF, reuseportSteering(n));
  if (r < 0) throw new SysError(r, 'setsockopt(SO_ATTACH_REUSEPORT_CBPF)', `on listen fd ${fd}`);
}
