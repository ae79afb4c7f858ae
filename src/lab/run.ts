/**
 * Runs the lab: for each scenario, start its server, drive it with
 * `edgeloop bench` while `edgeloop doctor` looks at it and the accept queue
 * is sampled, stop it, and turn what was counted into a result. Scenarios run
 * one after another, never overlapping: on 2 cores the numbers of one would
 * be the noise of the other. Thread: main. Owns the server of the scenario
 * under way.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { runBench, runDoctor, type DoctorOutcome } from './client.js';
import { delta, listenCounters, somaxconn } from './kernel.js';
import { loadSpec, CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS, type LoadParams } from './loads.js';
import { distribution, type LabResult, type ScenarioResult } from './result.js';
import { QueueSampler } from './sampler.js';
import { allScenarios, selectScenarios, type Scenario } from './scenarios.js';
import { EdgeloopHandle, NaiveHandle, type ServerHandle } from './servers.js';
import { verdict } from './verdict.js';
import { FIELD_REPORTS } from './fieldReports.js';
import { rowName } from './format.js';

export interface LabOptions {
  /** Scenario names (see selectScenarios); empty: all. */
  scenarios: string[];
  workers: number;
  seconds: number;
  slpMs: number;
  burst: number;
  storm: number;
  /** Run `edgeloop doctor` against every server (default true). */
  doctor: boolean;
}

export const LAB_DEFAULTS: LabOptions = {
  scenarios: [],
  workers: 10,
  seconds: 5,
  slpMs: 10,
  burst: 200,
  storm: 200,
  doctor: true,
};

export interface LabProgress {
  /** Called before a scenario starts and after it ends. */
  (event: { type: 'start'; index: number; total: number; scenario: Scenario; load: string } | { type: 'done'; index: number; total: number; result: ScenarioResult }): void;
}

export class ScenarioError extends Error {
  constructor(
    readonly scenario: Scenario,
    cause: unknown,
  ) {
    super(`${rowName(scenario)}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'ScenarioError';
  }
}

/** Doctor samples for most of the load, after its own start-up; a burst is over fast, so it sees the aftermath. */
function doctorSeconds(s: Scenario, seconds: number): number {
  if (s.load === 'burst') return 1.5;
  return Math.min(3, Math.max(0.5, seconds - 1));
}

function benchTimeoutMs(s: Scenario, p: LoadParams): number {
  const perRequest = CONNECT_TIMEOUT_MS + REQUEST_TIMEOUT_MS;
  // A burst is two waves; each may wait out a connect timeout and a request timeout.
  const run = s.load === 'burst' ? 4 * perRequest : p.seconds * 1000 + 2 * perRequest;
  return run + 30_000;
}

async function startServer(s: Scenario): Promise<ServerHandle> {
  return s.server.kind === 'naive' ? NaiveHandle.start(s.server.config) : EdgeloopHandle.start(s.server.loops);
}

export async function runScenario(s: Scenario, o: LabOptions): Promise<ScenarioResult> {
  const t0 = performance.now();
  const params: LoadParams = { seconds: o.seconds, burst: o.burst, storm: o.storm };
  const spec = loadSpec(s.load, params);
  const server = await startServer(s);
  let stopped = false;
  try {
    const before = listenCounters();
    const sampler = new QueueSampler(server.port);
    const noDoctor: DoctorOutcome = { findings: [], error: 'not run (--no-doctor)' };
    const [client, doctor] = await Promise.all([
      runBench(server.port, spec.args, benchTimeoutMs(s, params)),
      o.doctor ? runDoctor(server.pid, doctorSeconds(s, o.seconds)) : Promise.resolve(noDoctor),
    ]).finally(() => sampler.stop());
    const queue = sampler.stop();
    const overflow = delta(before, listenCounters());
    const stop = await server.stop();
    stopped = true;

    const workers = stop.workers.map((w) => ({ worker: w.worker, tid: w.tid, accepted: w.accepted, wakeups: w.wakeups, eagain: w.eagain }));
    const accepted = workers.reduce((n, w) => n + w.accepted, 0);
    const e = client.errors;
    const connectFailures = e.connectTimeout + e.connectRefused + e.connectError;
    const facts = {
      name: s.name,
      load: s.load,
      fieldReport: FIELD_REPORTS[s.report],
      describe: s.describe,
      loadDescribe: spec.describe,
      focus: s.focus,
      server: { kind: s.server.kind, pid: server.pid, port: server.port, backlog: server.backlog },
      workers,
      client,
      opened: client.connects,
      accepted,
      neverAccepted: Math.max(0, client.connects - accepted) + connectFailures,
      leftInQueue: stop.leftInQueue,
      failed: client.requests - client.completed,
      connectTimeouts: e.connectTimeout,
      acceptErrors: stop.workers.reduce((n, w) => n + w.errors, 0),
      spuriousWakeups: workers.reduce((n, w) => n + w.eagain, 0),
      wakeups: workers.reduce((n, w) => n + w.wakeups, 0),
      distribution: distribution(workers.map((w) => w.accepted)),
      queue,
      listenOverflows: overflow.overflows,
      listenDrops: overflow.drops,
      doctor: doctor.findings.map((f) => f.code),
      doctorFindings: doctor.findings,
      ...(doctor.error !== undefined ? { doctorError: doctor.error } : {}),
      cleanup: stop.cleanup,
      elapsedMs: Math.round(performance.now() - t0),
    } satisfies Omit<ScenarioResult, 'verdict'>;
    return { ...facts, verdict: verdict(facts) };
  } finally {
    if (!stopped) await server.stop().catch(() => undefined);
  }
}

export interface LabRun extends LabResult {
  errors: { name: string; load: string; message: string }[];
}

export async function runLab(options: Partial<LabOptions> = {}, progress?: LabProgress): Promise<LabRun> {
  const o: LabOptions = { ...LAB_DEFAULTS, ...options };
  const t0 = performance.now();
  const max = somaxconn();
  const selected = selectScenarios(allScenarios({ workers: o.workers, slpMs: o.slpMs, somaxconn: max }), o.scenarios);
  const scenarios: ScenarioResult[] = [];
  const errors: LabRun['errors'] = [];
  for (const [i, s] of selected.entries()) {
    progress?.({ type: 'start', index: i, total: selected.length, scenario: s, load: loadSpec(s.load, o).describe });
    try {
      const r = await runScenario(s, o);
      scenarios.push(r);
      progress?.({ type: 'done', index: i, total: selected.length, result: r });
    } catch (err) {
      errors.push({ name: s.name, load: s.load, message: new ScenarioError(s, err).message });
    }
  }
  return {
    kernel: os.release(),
    cpus: os.availableParallelism(),
    somaxconn: max,
    workers: o.workers,
    seconds: o.seconds,
    slpMs: o.slpMs,
    elapsedMs: Math.round(performance.now() - t0),
    scenarios,
    errors,
  };
}
