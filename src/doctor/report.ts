/**
 * Renders a doctor run: a readable report (what, evidence, why, fix, pitfall
 * row) or the JSON document `{ target, listeners, findings }`.
 */
import { describeEvents } from './proc/fdinfo.js';
import { listenerName } from './checks/util.js';
import { listenerDrops } from './checks/acceptQueue.js';
import type { DoctorResult } from './run.js';
import type { Finding } from './types.js';
import { plural } from '../cli/format.js';

/** Where the numbered pitfalls are explained: in the repository and in the installed package. */
export const PITFALLS_DOC = 'docs/pitfalls.md';

export function toJson(r: DoctorResult): object {
  const d = r.data;
  return {
    target: {
      mode: d.target.mode,
      pid: d.target.pid ?? null,
      port: d.target.port ?? null,
      processes: r.processes,
      sameNetns: d.target.sameNetns,
      seconds: Number(d.seconds.toFixed(3)),
      samples: d.samples,
      unreadableProcesses: Object.keys(d.target.unreadable).length,
      exitedProcesses: d.target.exited ?? [],
    },
    listeners: d.listeners.map((l) => {
      const q = d.queues.find((x) => x.inode === l.inode);
      return {
        address: l.address,
        port: l.port,
        family: l.family,
        inode: l.inode,
        backlog: l.backlog,
        acceptQueue: q ? { first: q.first, last: q.last, max: q.max, samples: q.samples, drops: listenerDrops(q) } : null,
        holders: l.holders,
        epoll: d.registrations
          .filter((g) => g.listenerInode === l.inode)
          .map((g) => ({
            instance: g.instance,
            members: d.instances[g.instance]?.members ?? [],
            events: `0x${(g.events >>> 0).toString(16)}`,
            flags: describeEvents(g.events),
            waiters: d.instances[g.instance]?.waiters ?? [],
          })),
      };
    }),
    findings: r.findings.map((f) => ({
      code: f.code,
      severity: f.severity,
      message: f.message,
      evidence: f.evidence,
      why: f.why,
      fix: f.fix,
      pitfalls: f.pitfalls,
    })),
  };
}

function evidenceLines(e: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue;
    let s = typeof v === 'string' ? v : JSON.stringify(v);
    if (s.length > 300) s = `${s.slice(0, 297)}...`;
    out.push(`${k}: ${s}`);
  }
  return out;
}

const LABEL = { error: 'ERROR', warning: 'WARN ', info: 'info ' } as const;

function renderFinding(f: Finding): string[] {
  const rows = f.pitfalls.length ? ` (pitfall ${f.pitfalls.map((p) => `#${p}`).join(', ')} in edgeloop's ${PITFALLS_DOC})` : '';
  const lines = [`${LABEL[f.severity]} ${f.code}${rows}`, `  what:     ${f.message}`];
  const ev = evidenceLines(f.evidence);
  if (ev.length) {
    lines.push(`  evidence: ${ev[0]}`);
    for (const l of ev.slice(1)) lines.push(`            ${l}`);
  }
  if (f.severity !== 'info' || f.code !== 'KERNEL_SETTINGS') lines.push(`  why:      ${f.why}`);
  lines.push(`  fix:      ${f.fix}`);
  return lines;
}

export function toText(r: DoctorResult): string {
  const d = r.data;
  const lines: string[] = [];
  const what = d.target.mode === 'pid' ? `pid ${d.target.pid}` : `port ${d.target.port}`;
  lines.push(`edgeloop doctor: ${what}, sampled ${d.seconds.toFixed(1)} s (${plural(d.samples, 'sample')})`);
  lines.push('');
  lines.push('Processes');
  for (const p of r.processes) {
    const state = d.target.exited?.includes(p.pid) ? 'exited during the sample' : plural(p.threads, 'thread');
    lines.push(`  ${String(p.pid).padStart(7)}  ${p.comm.padEnd(16)} ppid ${p.ppid}, ${state}${p.uid !== null ? `, uid ${p.uid}` : ''}`);
  }
  lines.push('');
  lines.push('Listeners');
  if (d.listeners.length === 0) lines.push('  (none)');
  for (const l of d.listeners) {
    const q = d.queues.find((x) => x.inode === l.inode);
    const holders = l.holders.map((h) => `${h.pid}/fd ${h.fd}`).join(', ') || 'nobody visible';
    const drops = listenerDrops(q);
    lines.push(
      `  ${listenerName(l).padEnd(24)} inode ${l.inode}, backlog ${l.backlog ?? '?'}, accept queue ${q?.last ?? '?'} (max ${q?.max ?? '?'})` +
        `${drops === null ? '' : `, ${drops} dropped`}, held by ${holders}`,
    );
    for (const g of d.registrations.filter((x) => x.listenerInode === l.inode)) {
      const inst = d.instances[g.instance];
      const members = inst?.members.map((m) => `${m.pid}/fd ${m.fd}`).join(', ') ?? '';
      const waiters = inst?.waiters.length ? `; threads seen waiting: ${inst.waiters.map((w) => w.tid).join(', ')}` : '';
      lines.push(`      epoll instance #${g.instance} (${members}): ${describeEvents(g.events)}${waiters}`);
    }
  }
  lines.push('');
  const n = (s: string) => r.findings.filter((f) => f.severity === s).length;
  lines.push(`Findings: ${plural(n('error'), 'error')}, ${plural(n('warning'), 'warning')}, ${n('info')} info`);
  for (const f of r.findings) {
    lines.push('');
    lines.push(...renderFinding(f));
  }
  return lines.join('\n');
}
