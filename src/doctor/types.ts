/** The data model shared by discovery, sampling, the checks and the report. */
import type { Family, TcpRow } from './proc/netTcp.js';
import type { Counters } from './proc/netstat.js';
import type { NetSysctls } from './proc/sysctl.js';
import type { Holder } from './processes.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  code: string;
  severity: Severity;
  /** What is wrong, in one sentence. */
  message: string;
  evidence: Record<string, unknown>;
  /** Why it matters. */
  why: string;
  /** What to do. */
  fix: string;
  /** Pitfall numbers in docs/pitfalls.md. */
  pitfalls: number[];
}

export interface TargetInfo {
  mode: 'pid' | 'port';
  pid?: number;
  port?: number;
  /** The processes in scope: the pid and its descendants, and every holder of a target listener. */
  pids: number[];
  /** Whose /proc/PID/net is read ('self' for --port). */
  netPid: number | 'self';
  /** inet_diag sees only the doctor's own network namespace. */
  sameNetns: boolean;
  /** Why sameNetns could not be decided (it is then false). */
  netnsUnknown?: string;
  /** Processes that could not be read (pid -> errno name). */
  unreadable: Record<number, string>;
  /** Processes in scope that exited (or whose pid was reused) during the sample. */
  exited?: number[];
}

export interface Listener {
  inode: number;
  family: Family;
  address: string;
  port: number;
  uid: number;
  /** Effective backlog (sk_max_ack_backlog) from inet_diag; null when not visible. */
  backlog: number | null;
  holders: Holder[];
}

/** One listener registered in one epoll instance (however many fds name that instance). */
export interface Registration {
  instance: number;
  listenerInode: number;
  /** A member fd of the instance, whose fdinfo was sampled. */
  pid: number;
  epfd: number;
  events: number;
  /** fdinfo samples in which a ONESHOT item was armed / disarmed. */
  armedSamples: number;
  disarmedSamples: number;
}

export interface Waiter {
  pid: number;
  tid: number;
  how: 'epoll_wait' | 'accept';
  /** How many samples saw it there. */
  samples: number;
}

export interface EpollInstance {
  id: number;
  /** Every (pid, fd) that is this open file description. */
  members: { pid: number; fd: number }[];
  listenerInodes: number[];
  /** Threads seen blocked in epoll_wait on it, directly or through an outer epoll. */
  waiters: Waiter[];
  /** How members were grouped: kcmp, or one fd alone when kcmp was not possible. */
  grouping: 'kcmp' | 'single';
}

export interface QueueStats {
  inode: number;
  samples: number;
  first: number;
  last: number;
  max: number;
  /** The shortest queue seen; above 0 means connections waited through every sample. */
  min?: number;
  /** Samples with queue >= backlog (the kernel refuses at > backlog). */
  atLimit: number;
  /** Samples with queue >= 80% of backlog. */
  nearFull: number;
  /**
   * The listener's own sk_drops (inet_diag) at its first and last sample.
   * null: not known for the whole sample (no inet_diag, an old kernel, or a
   * sample without it); the namespace-wide TcpExt counters are all there is then.
   */
  dropsFirst?: number | null;
  dropsLast?: number | null;
}

export interface FdUsage {
  pid: number;
  comm: string;
  open: number;
  soft: number;
  hard: number;
}

export interface CpuUnit {
  pid: number;
  tid?: number;
  comm: string;
  /** utime+stime ticks during the sample. */
  ticks: number;
}

export interface DoctorData {
  target: TargetInfo;
  listeners: Listener[];
  registrations: Registration[];
  instances: EpollInstance[];
  /** Set when kcmp could not compare epoll fds across processes. */
  kcmpError: string | null;
  /** Set when inet_diag could not be used (backlogs unknown). */
  diagError: string | null;
  /** Thread wait sampling unavailable (unknown arch). */
  waitSamplingError: string | null;
  queues: QueueStats[];
  counters: { start: Counters | null; end: Counters | null };
  /** Target CLOSE_WAIT sockets at the start and the end of the sample. */
  closeWait: { start: TcpRow[]; end: TcpRow[] };
  fdUsage: FdUsage[];
  cpu: CpuUnit[];
  sysctl: NetSysctls;
  seconds: number;
  samples: number;
}
