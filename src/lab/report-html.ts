/**
 * The lab as one self-contained HTML file: inline CSS and SVG drawn here, no
 * scripts, no external assets, so it can be attached to an issue as the proof.
 * Thread: any. Owns nothing.
 */
import { esc, int, ms, pct, plural } from '../cli/format.js';
import { rowName } from './format.js';
import type { LabRun } from './run.js';
import type { ScenarioResult } from './result.js';


interface Bar {
  label: string;
  values: number[];
}

/**
 * Horizontal bars, one group per label and one bar per series: labels stay
 * readable however many workers or scenarios there are.
 */
function barChart(bars: Bar[], series: { name: string; cls: string }[], title: string): string {
  const W = 760;
  const labelW = 170;
  const barH = 12;
  const groupH = series.length * barH + 8;
  const top = 26;
  const H = top + bars.length * groupH + 8;
  const max = Math.max(1, ...bars.flatMap((b) => b.values));
  const scale = (W - labelW - 90) / max;
  let s = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`;
  s += `<text x="0" y="14" class="title">${esc(title)}</text>`;
  series.forEach((se, i) => {
    const x = W - 330 + i * 140;
    s += `<rect x="${x}" y="5" width="10" height="10" class="${se.cls}"/><text x="${x + 14}" y="14">${esc(se.name)}</text>`;
  });
  bars.forEach((b, g) => {
    const y0 = top + g * groupH;
    s += `<text x="${labelW - 8}" y="${y0 + (series.length * barH) / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`;
    b.values.forEach((v, i) => {
      const w = Math.max(v > 0 ? 1 : 0, v * scale);
      const y = y0 + i * barH;
      const sr = series[i] ?? { cls: '', name: '' };
      s += `<rect x="${labelW}" y="${y}" width="${w}" height="${barH - 2}" class="${sr.cls}"><title>${esc(`${b.label} ${sr.name}: ${int(v)}`)}</title></rect>`;
      s += `<text x="${labelW + w + 4}" y="${y + barH - 3}" class="val">${int(v)}</text>`;
    });
  });
  return s + '</svg>';
}

function summaryTable(run: LabRun): string {
  const head = ['scenario', 'load', 'completed', 'failed', 'never accepted', 'eagain wakeups', 'per worker min–max (sd)', 'connect timeouts', 'ListenOverflows', 'doctor'];
  const rows = run.scenarios.map((r) => {
    const bad = r.neverAccepted > 0 || r.connectTimeouts > 0 ? ' class="bad"' : '';
    return (
      `<tr${bad}><td><a href="#${esc(anchor(r))}">${esc(rowName(r))}</a></td><td>${r.load}</td>` +
      `<td>${int(r.client.completed)}</td><td>${int(r.failed)}</td><td>${int(r.neverAccepted)}</td>` +
      `<td>${int(r.spuriousWakeups)} (${pct(r.spuriousWakeups, r.wakeups)})</td>` +
      `<td>${int(r.distribution.min)}–${int(r.distribution.max)} (${int(r.distribution.stddev)})</td>` +
      `<td>${int(r.connectTimeouts)}</td><td>+${int(r.listenOverflows)}</td>` +
      `<td>${esc(r.doctorFindings.filter((f) => f.severity !== 'info').map((f) => f.code).join(' ') || (r.doctorError ? '?' : '–'))}</td></tr>`
    );
  });
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const anchor = (r: ScenarioResult) => `${r.name}-${r.load}`;

function scenarioSection(r: ScenarioResult): string {
  const chart = barChart(
    r.workers.map((w) => ({ label: `worker ${w.worker}${w.tid ? ` (tid ${w.tid})` : ''}`, values: [w.accepted, w.eagain] })),
    [
      { name: 'accepted', cls: 'a' },
      { name: 'woke for nothing', cls: 'e' },
    ],
    'per worker',
  );
  const c = r.client;
  const findings = r.doctorError
    ? `<p>${esc(r.doctorError)}</p>`
    : `<ul>${r.doctorFindings.map((f) => `<li class="${f.severity}"><b>${esc(f.code)}</b> (${f.severity}): ${esc(f.message)}</li>`).join('') || '<li>no findings</li>'}</ul>`;
  return `<section id="${esc(anchor(r))}">
<h2>${esc(rowName(r))}</h2>
<p><b>field report</b> ${esc(r.fieldReport)}</p>
<p class="verdict">${esc(r.verdict)}</p>
<p><b>server</b> ${esc(r.describe)} (backlog ${int(r.server.backlog)})<br><b>load</b> ${esc(r.loadDescribe)}</p>
${chart}
<table class="kv">
<tr><th>requests</th><td>${int(c.requests)} sent, ${int(c.completed)} completed, ${int(r.failed)} failed; ${int(c.rps)} req/s; p50 ${ms(c.latencyMs.p50)} ms, p99 ${ms(c.latencyMs.p99)} ms</td></tr>
<tr><th>connections</th><td>${int(r.opened)} opened, ${int(r.accepted)} accepted, ${int(r.neverAccepted)} never accepted (${int(r.leftInQueue)} left in the accept queue), ${int(r.connectTimeouts)} connect timeouts</td></tr>
<tr><th>wakeups</th><td>${int(r.wakeups)}, of which ${int(r.spuriousWakeups)} found nothing to accept</td></tr>
<tr><th>kernel</th><td>accept queue peak ${int(r.queue.max)} of ${int(r.server.backlog)}; ListenOverflows +${int(r.listenOverflows)}, ListenDrops +${int(r.listenDrops)}</td></tr>
<tr><th>cleanup</th><td>${r.cleanup.ok ? 'ok' : '<b>FAILED</b>'}: ${esc(r.cleanup.detail)}</td></tr>
</table>
<h3>edgeloop doctor --pid ${r.server.pid}</h3>
${findings}
</section>`;
}

export function labHtml(run: LabRun): string {
  const rows = run.scenarios;
  const overview =
    barChart(
      rows.map((r) => ({ label: rowName(r), values: [r.neverAccepted, r.connectTimeouts] })),
      [
        { name: 'never accepted', cls: 'e' },
        { name: 'of which connect timeouts', cls: 'w' },
      ],
      'connections never accepted',
    ) +
    barChart(
      rows.map((r) => ({ label: rowName(r), values: [r.spuriousWakeups, r.wakeups - r.spuriousWakeups] })),
      [
        { name: 'woke for nothing', cls: 'e' },
        { name: 'useful wakeups', cls: 'a' },
      ],
      'wakeups',
    );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeloop lab</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:1em 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}tr.bad td{background:#fff1f0}
table.kv th{text-align:left;vertical-align:top;color:#555}table.kv td{text-align:left}
svg{width:100%;height:auto;font-size:11px;margin:.5em 0}.title{font-weight:bold;font-size:12px}
rect.a{fill:#3b7dd8}rect.e{fill:#d84b3b}rect.w{fill:#e0a030}.val{fill:#555}
.verdict{font-weight:bold}li.error{color:#b00}li.warning{color:#a60}li.info{color:#555}
</style></head><body>
<h1>edgeloop lab</h1>
<p>Linux ${esc(run.kernel)}, ${plural(run.cpus, 'CPU')}, net.core.somaxconn ${run.somaxconn}; ${plural(run.workers, 'worker')} per server;
${run.seconds} s per timed load; slp ${run.slpMs} ms; ${plural(rows.length, 'scenario')} in ${(run.elapsedMs / 1000).toFixed(1)} s.
Clients: <code>edgeloop bench</code>. Diagnosis: <code>edgeloop doctor</code>, run against each server while it was under load.</p>
<h2>Summary</h2>
${summaryTable(run)}
<ul>${rows.map((r) => `<li>${esc(r.verdict)}</li>`).join('')}${run.errors.map((e) => `<li class="error">${esc(e.message)}</li>`).join('')}</ul>
${overview}
${rows.map(scenarioSection).join('\n')}
</body></html>
`;
}
