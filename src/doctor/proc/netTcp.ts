/**
 * Parser for /proc/net/tcp and /proc/net/tcp6 (also /proc/PID/net/*, which is
 * the table of that process's network namespace). Pure: text in, rows out.
 *
 * Addresses are printed as 32-bit words in host byte order (%08X of the raw
 * u32), so on little-endian machines every word's bytes are reversed; ports
 * are printed already converted to host order.
 */
import { TcpState } from '../../native/inetDiag.js';
import os from 'node:os';

export const TCP_STATES: Record<number, string> = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
  12: 'NEW_SYN_RECV',
};
export const TCP_LISTEN = TcpState.LISTEN;
export const TCP_CLOSE_WAIT = TcpState.CLOSE_WAIT;

export type Family = 'IPv4' | 'IPv6';

export interface TcpRow {
  family: Family;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: number;
  /** Unsent bytes (for LISTEN: 0). */
  txQueue: number;
  /** Unread bytes, counting a FIN not yet read as one; for LISTEN: accept-queue length. */
  rxQueue: number;
  uid: number;
  /** 0 for sockets no process holds yet (in an accept queue) or any more (TIME_WAIT). */
  inode: number;
}

const littleEndian = os.endianness() === 'LE';

function wordBytes(hex8: string, le: boolean): number[] {
  const w = parseInt(hex8, 16);
  const b = [(w >>> 24) & 255, (w >>> 16) & 255, (w >>> 8) & 255, w & 255];
  return le ? b.reverse() : b;
}

/** Formats 16 bytes like inet_ntop: longest zero run compressed, v4-mapped dotted. */
export function formatIPv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Decodes "0100007F" (IPv4) or a 32-hex-digit IPv6 address as printed by the kernel. */
export function decodeAddress(hex: string, le = littleEndian): string {
  if (hex.length === 8) return wordBytes(hex, le).join('.');
  if (hex.length === 32) {
    const bytes: number[] = [];
    for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8), le));
    return formatIPv6(bytes);
  }
  throw new Error(`unexpected address '${hex}' in /proc/net/tcp`);
}

function splitEndpoint(s: string, le: boolean): [string, number] | null {
  const i = s.indexOf(':');
  if (i < 0) return null;
  const port = parseInt(s.slice(i + 1), 16);
  if (!Number.isFinite(port)) return null;
  try {
    return [decodeAddress(s.slice(0, i), le), port];
  } catch {
    return null;
  }
}

/**
 * Parses the whole table. Lines that do not have the ten leading fields every
 * kernel prints (sl .. inode) are skipped, not fatal: the tail of the line
 * changed across kernel versions and is not used.
 */
export function parseNetTcp(text: string, family: Family, le = littleEndian): TcpRow[] {
  const rows: TcpRow[] = [];
  for (const line of text.split('\n')) {
    // sl local remote st tx:rx tr:when retrnsmt uid timeout inode ...
    const [sl = '', localHex = '', remoteHex = '', st = '', txrx = '', , , uidText, , inodeText] = line.trim().split(/\s+/);
    if (inodeText === undefined || !/^\d+:$/.test(sl)) continue;
    const local = splitEndpoint(localHex, le);
    const remote = splitEndpoint(remoteHex, le);
    const [tx, rx, ...extra] = txrx.split(':');
    if (!local || !remote || tx === undefined || rx === undefined || extra.length > 0) continue;
    const state = parseInt(st, 16);
    const inode = Number(inodeText);
    const uid = Number(uidText);
    if (!Number.isFinite(state) || !Number.isFinite(inode) || !Number.isFinite(uid)) continue;
    rows.push({
      family,
      localAddress: local[0],
      localPort: local[1],
      remoteAddress: remote[0],
      remotePort: remote[1],
      state,
      txQueue: parseInt(tx, 16),
      rxQueue: parseInt(rx, 16),
      uid,
      inode,
    });
  }
  return rows;
}

export function stateName(state: number): string {
  return TCP_STATES[state] ?? `STATE_${state}`;
}
