/**
 * Parser for /proc/PID/fdinfo/FD, with the epoll item lines
 *   tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x
 * pos/ino/sdev arrived in Linux 3.8-era kernels and may be missing. Items must
 * be keyed by `ino` (the target's inode): `tfd` is the fd number at
 * registration time and goes stale after dup2/close.
 */
export const EPOLLIN = 0x001;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 2 ** 31;
/** The bits the kernel keeps after a ONESHOT item fires; the rest is the interest mask. */
export const EP_PRIVATE_BITS = 0xf0000000;

export interface EpollItem {
  tfd: number;
  /** Unsigned 32-bit interest mask including the private bits (ET, ONESHOT, ...). */
  events: number;
  /** The user's epoll_data, as hex: often the fd, a pointer or a token. */
  data: string;
  pos?: number;
  /** The target file's inode (a socket inode for listeners). */
  ino?: number;
  sdev?: number;
}

export interface FdInfo {
  pos?: number;
  flags?: number;
  mntId?: number;
  /** The inode of the fd itself (for epoll: the shared anon inode of all epoll fds). */
  ino?: number;
  epoll: EpollItem[];
}

export function parseFdinfo(text: string): FdInfo {
  const out: FdInfo = { epoll: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('tfd:')) {
      const item = parseEpollItem(line);
      if (item) out.epoll.push(item);
      continue;
    }
    const m = /^([a-z_]+):\s*(\S+)$/.exec(line);
    if (!m) continue;
    const [, key, value = ''] = m;
    if (key === 'pos') out.pos = Number(value);
    else if (key === 'flags') out.flags = parseInt(value, 8);
    else if (key === 'mnt_id') out.mntId = Number(value);
    else if (key === 'ino') out.ino = Number(value);
  }
  return out;
}

export function parseEpollItem(line: string): EpollItem | null {
  const tfd = /tfd:\s*(-?\d+)/.exec(line);
  const events = /events:\s*([0-9a-fA-F]+)/.exec(line);
  const data = /data:\s*([0-9a-fA-F]+)/.exec(line);
  if (!tfd || !events) return null;
  const item: EpollItem = {
    tfd: Number(tfd[1]),
    events: parseInt(events[1] ?? '', 16) >>> 0,
    data: data?.[1]?.toLowerCase() ?? '',
  };
  const pos = /\bpos:\s*(-?\d+)/.exec(line);
  const ino = /\bino:\s*([0-9a-fA-F]+)/.exec(line);
  const sdev = /\bsdev:\s*([0-9a-fA-F]+)/.exec(line);
  if (pos) item.pos = Number(pos[1]);
  if (ino?.[1]) item.ino = parseInt(ino[1], 16);
  if (sdev?.[1]) item.sdev = parseInt(sdev[1], 16);
  return item;
}

export function isEdgeTriggered(events: number): boolean {
  return (events & EPOLLET) !== 0;
}
export function isOneshot(events: number): boolean {
  return (events & EPOLLONESHOT) !== 0;
}
export function isExclusive(events: number): boolean {
  return (events & EPOLLEXCLUSIVE) !== 0;
}
/** A ONESHOT item that fired keeps only its private bits until EPOLL_CTL_MOD re-arms it. */
export function isDisarmed(events: number): boolean {
  return (events & ~EP_PRIVATE_BITS) === 0;
}

export function describeEvents(events: number): string {
  const names: string[] = [];
  const table: [number, string][] = [
    [0x001, 'IN'],
    [0x004, 'OUT'],
    [0x002, 'PRI'],
    [0x008, 'ERR'],
    [0x010, 'HUP'],
    [0x2000, 'RDHUP'],
    [EPOLLEXCLUSIVE, 'EXCLUSIVE'],
    [EPOLLWAKEUP, 'WAKEUP'],
    [EPOLLONESHOT, 'ONESHOT'],
    [EPOLLET, 'ET'],
  ];
  for (const [bit, name] of table) if ((events & bit) >>> 0 !== 0) names.push(name);
  return names.join('|') || '0';
}
