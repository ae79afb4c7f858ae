/**
 * The lab as text: a table per scenario in the shape of the field reports' own
 * (one row per worker: what it accepted, how often it woke, how often for
 * nothing), then a summary of all scenarios and a verdict each.
 * Thread: any. Owns nothing.
 */
import { int, ms, plural } from '../cli/format.js';
import { rowName } from './format.js';
import type { LabRun } from './run.js';
import type { ScenarioResult } from './result.js';

/** `align` has one letter per column: l(eft) for names, r(ight) for numbers. */
function table(head: string[], rows: string[][], align: string): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

const indent = (lines: string[], by = '  ') => lines.map((l) => by + l);

function serious(r: ScenarioResult) {
  return r.doctorFindings.filter((f) => f.severity !== 'info');
}

export function scenarioText(r: ScenarioResult): string {
  const out: string[] = [];
  out.push(`━━ ${rowName(r)} ━━`);
  out.push(`from     field report: ${r.fieldReport}`);
  out.push(`server   ${r.describe}`);
  out.push(`         pid ${r.server.pid}, port ${r.server.port}, backlog ${int(r.server.backlog)}`);
  out.push(`load     ${r.loadDescribe}`);
  out.push('');
  const rows = r.workers.map((w) => [String(w.worker), w.tid ? String(w.tid) : '-', int(w.accepted), int(w.wakeups), int(w.eagain)]);
  rows.push(['total', '', int(r.accepted), int(r.wakeups), int(r.spuriousWakeups)]);
  out.push(...indent(table(['worker', 'tid', 'accepted', 'wakeups', 'eagain'], rows, 'lrrrr')));
  out.push('');
  const c = r.client;
  const e = c.errors;
  const failures = Object.entries({
    'connect timeout': e.connectTimeout,
    'connect refused': e.connectRefused,
    'connect error': e.connectError,
    reset: e.reset,
    'closed early': e.closed,
    timeout: e.timeout,
    unanswered: e.unanswered,
    malformed: e.malformed,
  })
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${int(n)}`);
  out.push(
    `client   ${int(c.requests)} requests, ${int(c.completed)} completed, ${int(r.failed)} failed` +
      (failures.length ? ` (${failures.join(', ')})` : '') +
      `; ${int(c.rps)} req/s; p50 ${ms(c.latencyMs.p50)} ms, p99 ${ms(c.latencyMs.p99)} ms`,
  );
  out.push(
    `accept   ${int(r.opened)} connections opened, ${int(r.accepted)} accepted, ${int(r.neverAccepted)} never accepted` +
      ` (${int(r.leftInQueue)} left in the queue)${r.acceptErrors ? `, ${int(r.acceptErrors)} accept errors` : ''}; per worker ${int(r.distribution.min)}–${int(r.distribution.max)}, stddev ${int(r.distribution.stddev)}`,
  );
  out.push(
    `kernel   accept queue peak ${int(r.queue.max)} of ${int(r.server.backlog)} (${r.queue.samples} samples${r.queue.full ? `, full in ${r.queue.full}` : ''}); ` +
      `ListenOverflows +${int(r.listenOverflows)}, ListenDrops +${int(r.listenDrops)}`,
  );
  if (r.doctorError) out.push(`doctor   ${r.doctorError}`);
  else {
    out.push(`doctor   ${r.doctorFindings.map((f) => `${f.code} (${f.severity})`).join(', ') || 'no findings'}`);
    for (const f of serious(r)) out.push(`         ${f.code}: ${f.message}`);
  }
  out.push(`cleanup  ${r.cleanup.ok ? 'ok' : 'FAILED'}: ${r.cleanup.detail}`);
  out.push(`verdict  ${r.verdict}`);
  return out.join('\n');
}

export function summaryText(run: LabRun): string {
  const head = ['scenario', 'load', 'completed', 'failed', 'never accepted', 'eagain wakeups', 'accepted/worker min–max (sd)', 'connect t/o', 'overflows', 'doctor (warnings, errors)'];
  const rows = run.scenarios.map((r) => [
    rowName(r),
    r.load,
    int(r.client.completed),
    int(r.failed),
    int(r.neverAccepted),
    int(r.spuriousWakeups),
    `${int(r.distribution.min)}–${int(r.distribution.max)} (${int(r.distribution.stddev)})`,
    int(r.connectTimeouts),
    `+${int(r.listenOverflows)}`,
    serious(r).map((f) => f.code).join(' ') || (r.doctorError ? '?' : '-'),
  ]);
  return table(head, rows, 'llrrrrrrrl').join('\n');
}

export function labText(run: LabRun): string {
  const out: string[] = [];
  out.push(
    `edgeloop lab: Linux ${run.kernel}, ${plural(run.cpus, 'CPU')}, somaxconn ${run.somaxconn}, ${plural(run.workers, 'worker')}, ` +
      `${run.seconds} s per timed load, slp ${run.slpMs} ms`,
  );
  out.push('');
  for (const r of run.scenarios) out.push(scenarioText(r), '');
  out.push('━━ summary ━━');
  out.push(summaryText(run));
  out.push('');
  for (const r of run.scenarios) out.push(r.verdict);
  for (const e of run.errors) out.push(`${e.name} (${e.load}): could not run: ${e.message}`);
  out.push('', `${plural(run.scenarios.length, 'scenario')} in ${(run.elapsedMs / 1000).toFixed(1)} s`);
  return out.join('\n');
}
