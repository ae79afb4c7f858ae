/**
 * One scenario's outcome as plain data: what --json prints and what the text
 * and HTML reports render. Thread: any. Owns nothing.
 */
import type { BenchResult } from '../bench/result.js';
import type { DoctorFinding } from './client.js';
import type { LoadName } from './loads.js';
import type { QueueSample } from './sampler.js';

export interface WorkerRow {
  worker: number;
  /** Kernel thread id (naive servers; 0 when unknown). */
  tid: number;
  accepted: number;
  wakeups: number;
  /** Wakeups whose accept() found nothing: accept() = EAGAIN before any connection. */
  eagain: number;
}

export interface Distribution {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  /** The busiest worker's share of all accepted connections, 0..1. */
  busiestShare: number;
}

export interface ScenarioResult {
  name: string;
  load: LoadName;
  /** The field report the scenario reproduces, in one line. */
  fieldReport: string;
  describe: string;
  loadDescribe: string;
  focus: 'herd' | 'lost' | 'backlog' | 'reference';
  server: { kind: 'naive' | 'edgeloop'; pid: number; port: number; backlog: number };
  workers: WorkerRow[];
  client: BenchResult;
  /** Connections the client opened (successful connects). */
  opened: number;
  /** Connections the server's workers accepted. */
  accepted: number;
  /** Opened and never accepted, plus connects that timed out or failed (SYNs the kernel dropped). */
  neverAccepted: number;
  /** Of those, still in the accept queue when the load was over. */
  leftInQueue: number;
  /** Requests that got no response (connect failures, timeouts, resets, unanswered). */
  failed: number;
  connectTimeouts: number;
  /** accept() failures other than EAGAIN (EMFILE, ...), summed over the workers. */
  acceptErrors: number;
  /** Sum of the workers' wakeups that found nothing. */
  spuriousWakeups: number;
  wakeups: number;
  distribution: Distribution;
  queue: QueueSample;
  /** TcpExt ListenOverflows delta over the scenario (network-namespace wide). */
  listenOverflows: number;
  listenDrops: number;
  /** Finding codes of `edgeloop doctor --pid` run against the server during the load. */
  doctor: string[];
  doctorFindings: DoctorFinding[];
  doctorError?: string;
  cleanup: { ok: boolean; detail: string; closedAtStop: number };
  elapsedMs: number;
  verdict: string;
}

export interface LabResult {
  kernel: string;
  cpus: number;
  somaxconn: number;
  workers: number;
  seconds: number;
  slpMs: number;
  elapsedMs: number;
  scenarios: ScenarioResult[];
}

export function distribution(accepted: number[]): Distribution {
  const n = accepted.length;
  if (n === 0) return { min: 0, max: 0, mean: 0, stddev: 0, busiestShare: 0 };
  const total = accepted.reduce((a, b) => a + b, 0);
  const mean = total / n;
  const variance = accepted.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const max = Math.max(...accepted);
  return {
    min: Math.min(...accepted),
    max,
    mean: Math.round(mean * 10) / 10,
    stddev: Math.round(Math.sqrt(variance) * 10) / 10,
    busiestShare: total > 0 ? Math.round((max / total) * 1000) / 1000 : 0,
  };
}
