/** Every check, in report order; each is a pure function of the sampled data. */
import type { DoctorData, Finding, Severity } from '../types.js';
import { checkBacklog, checkNearFull, checkOverflow } from './acceptQueue.js';
import { checkCloseWait } from './closeWait.js';
import { checkCpuImbalance } from './cpu.js';
import { checkFdLimit } from './fdLimit.js';
import { checkSharedEpoll, checkSharedListener } from './herd.js';
import { checkKernelSettings, checkReuseport, checkVisibility } from './info.js';
import { checkEdgeTriggered, checkOneshot } from './registration.js';

export const CHECKS: ((d: DoctorData) => Finding[])[] = [
  checkEdgeTriggered,
  checkOneshot,
  checkSharedEpoll,
  checkSharedListener,
  checkOverflow,
  checkNearFull,
  checkBacklog,
  checkCloseWait,
  checkFdLimit,
  checkCpuImbalance,
  checkReuseport,
  checkKernelSettings,
  checkVisibility,
];

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function runChecks(d: DoctorData): Finding[] {
  const out = CHECKS.flatMap((c) => c(d));
  // Stable sort: severity first, check order within one severity.
  return out.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}
