/**
 * Parser for /proc/PID/task/TID/syscall: what a thread is blocked in, read
 * without stopping it. "running" when on a CPU, "-1 sp pc" in user space,
 * else "nr arg0..arg5 sp pc". Syscall numbers depend on the architecture.
 */
export type SyscallState =
  | { kind: 'running' }
  | { kind: 'user' }
  | { kind: 'syscall'; nr: number; args: bigint[] };

export function parseSyscall(text: string): SyscallState | null {
  const t = text.trim();
  if (t === 'running') return { kind: 'running' };
  const f = t.split(/\s+/);
  if (f.length === 0 || f[0] === '') return null;
  const nr = Number(f[0]);
  if (!Number.isFinite(nr)) return null;
  if (nr < 0) return { kind: 'user' };
  const args: bigint[] = [];
  for (const a of f.slice(1, 7)) {
    try {
      args.push(BigInt(a));
    } catch {
      return null;
    }
  }
  return { kind: 'syscall', nr, args };
}

interface ArchSyscalls {
  /** Syscalls whose first argument is an epoll fd being waited on. */
  epollWait: number[];
  /** Syscalls whose first argument is a listening fd being waited on. */
  accept: number[];
}

const TABLES: Record<string, ArchSyscalls> = {
  x64: { epollWait: [232, 281, 441], accept: [43, 288] },
  arm64: { epollWait: [22, 441], accept: [202, 242] },
  riscv64: { epollWait: [22, 441], accept: [202, 242] },
  ia32: { epollWait: [256, 319, 441], accept: [364] },
  arm: { epollWait: [252, 346, 441], accept: [285, 366] },
};

export function syscallTable(arch: string = process.arch): ArchSyscalls | null {
  return TABLES[arch] ?? null;
}

/** The fd a thread waits on, and how, or null when it is not waiting on one. */
export function waitTarget(
  s: SyscallState | null,
  table: ArchSyscalls | null,
): { how: 'epoll_wait' | 'accept'; fd: number } | null {
  const first = s?.kind === 'syscall' ? s.args[0] : undefined;
  if (!s || s.kind !== 'syscall' || !table || first === undefined) return null;
  const fd = Number(BigInt.asIntN(32, first));
  if (table.epollWait.includes(s.nr)) return { how: 'epoll_wait', fd };
  if (table.accept.includes(s.nr)) return { how: 'accept', fd };
  return null;
}
