/**
 * Runs `edgeloop bench` (the load) and `edgeloop doctor` (the diagnosis) as
 * child processes and parses their --json output. Thread: main. Owns nothing
 * beyond the children it waits for.
 */
import type { BenchResult } from '../bench/result.js';
import { runCli } from './children.js';

export interface DoctorFinding {
  code: string;
  severity: string;
  message: string;
}

export interface DoctorOutcome {
  findings: DoctorFinding[];
  /** Set when doctor could not run or its output could not be read. */
  error?: string;
}

export async function runBench(port: number, args: string[], timeoutMs: number): Promise<BenchResult> {
  const url = `http://127.0.0.1:${port}/hello`;
  const r = await runCli(['bench', url, ...args, '--json', '--no-progress'], timeoutMs);
  if (r.timedOut) throw new Error(`edgeloop bench did not finish within ${timeoutMs} ms`);
  try {
    return JSON.parse(r.stdout) as BenchResult;
  } catch {
    throw new Error(`edgeloop bench exited ${r.code} without a result: ${r.stderr.trim() || r.stdout.trim()}`);
  }
}

export async function runDoctor(pid: number, seconds: number): Promise<DoctorOutcome> {
  const r = await runCli(['doctor', '--pid', String(pid), '--seconds', String(seconds), '--json'], (seconds + 30) * 1000);
  if (r.timedOut) return { findings: [], error: 'edgeloop doctor timed out' };
  try {
    const out = JSON.parse(r.stdout) as { findings?: DoctorFinding[]; error?: string };
    if (!out.findings) return { findings: [], error: out.error ?? `edgeloop doctor exited ${r.code}` };
    return { findings: out.findings.map((f) => ({ code: f.code, severity: f.severity, message: f.message })) };
  } catch {
    return { findings: [], error: `edgeloop doctor exited ${r.code}: ${r.stderr.trim().split('\n')[0] ?? ''}` };
  }
}
