/**
 * Self-contained HTML report: inline CSS and SVG charts drawn here, no scripts,
 * no external assets, so the file can be mailed or attached to an issue and
 * still open years later. Thread: main. Owns nothing.
 */
import { esc, formatBytes, formatMs, int, plural } from '../cli/format.js';
import { ERROR_LABELS } from './report-human.js';
import { rpsSeries, type BenchResult } from './result.js';


const W = 760;
const H = 260;
const PAD = { l: 64, r: 16, t: 16, b: 40 };

/** A "nice" axis maximum and tick step for 0..max. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step, step };
}

function shortNum(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(1)}`;
}

function yAxis(top: number, step: number, label: string): string {
  const ih = H - PAD.t - PAD.b;
  let s = '';
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = PAD.t + ih - (v / top) * ih;
    s += `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" class="grid"/>`;
    s += `<text x="${PAD.l - 6}" y="${y + 4}" text-anchor="end">${shortNum(v)}</text>`;
  }
  s += `<text x="14" y="${PAD.t + ih / 2}" transform="rotate(-90 14 ${PAD.t + ih / 2})" text-anchor="middle">${esc(label)}</text>`;
  return s;
}

export function latencyChart(r: BenchResult): string {
  const bins = r.latencyBins;
  if (bins.length === 0) return '<p class="empty">No responses, so no latency histogram.</p>';
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const max = Math.max(...bins.map((b) => b.count));
  const { top, step } = niceScale(max);
  const bw = iw / bins.length;
  let s = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="latency histogram">`;
  s += yAxis(top, step, 'requests');
  bins.forEach((b, i) => {
    const h = (b.count / top) * ih;
    const x = PAD.l + i * bw;
    const title = `${formatMs(b.fromUs / 1000)} – ${formatMs(b.toUs / 1000)}: ${int(b.count)}`;
    s += `<rect x="${x + 0.5}" y="${PAD.t + ih - h}" width="${Math.max(1, bw - 1)}" height="${h}" class="bar"><title>${esc(title)}</title></rect>`;
  });
  // Label about eight bins along the (logarithmic) x axis.
  const every = Math.max(1, Math.ceil(bins.length / 8));
  for (let i = 0; i < bins.length; i += every) {
    const x = PAD.l + i * bw;
    s += `<text x="${x}" y="${H - PAD.b + 16}" text-anchor="start">${esc(formatMs((bins[i]?.fromUs ?? 0) / 1000))}</text>`;
  }
  s += `<text x="${PAD.l + iw / 2}" y="${H - 4}" text-anchor="middle">latency (log scale)</text>`;
  for (const [k, v] of [
    ['p50', r.latencyMs.p50],
    ['p99', r.latencyMs.p99],
  ] as const) {
    const us = v * 1000;
    const i = bins.findIndex((b) => us >= b.fromUs && us < b.toUs);
    if (i < 0) continue;
    const x = PAD.l + (i + 0.5) * bw;
    s += `<line x1="${x}" x2="${x}" y1="${PAD.t}" y2="${PAD.t + ih}" class="mark"/><text x="${x + 3}" y="${PAD.t + 10}" class="marktext">${k}</text>`;
  }
  return s + '</svg>';
}

export function rpsChart(r: BenchResult): string {
  const { stepMs, rps, failed } = rpsSeries(r);
  if (rps.length === 0) return '<p class="empty">Nothing completed or failed, so no timeline.</p>';
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const { top, step } = niceScale(Math.max(...rps, ...failed));
  // The axis is time and spans the whole run: a 5 s run ends at 5 s. Each point sits in the
  // middle of the step it rates (the last step may be cut short by the end of the run).
  const endMs = Math.max(r.elapsedMs, stepMs);
  const tx = (ms: number) => PAD.l + (Math.min(ms, endMs) / endMs) * iw;
  const mid = (i: number) => tx((i * stepMs + Math.min((i + 1) * stepMs, endMs)) / 2);
  const y = (v: number) => PAD.t + ih - (v / top) * ih;
  const line = (vs: number[]) => vs.map((v, i) => `${mid(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  let s = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="requests per second over time">`;
  s += yAxis(top, step, 'per second');
  s += `<polyline points="${line(rps)}" class="ok"/>`;
  if (failed.some((v) => v > 0)) s += `<polyline points="${line(failed)}" class="bad"/>`;
  rps.forEach((v, i) => {
    s += `<circle cx="${mid(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2" class="okdot"><title>${esc(
      `${formatMs(i * stepMs)} – ${formatMs(Math.min((i + 1) * stepMs, endMs))}: ${int(v)} req/s, ${int(failed[i] ?? 0)} failed/s`,
    )}</title></circle>`;
  });
  const tick = niceScale(endMs, 8).step;
  const ticks: number[] = [];
  for (let t = 0; t <= endMs + tick / 1000; t += tick) ticks.push(t);
  // The end of the run is always labelled (a 5.6 s run ends at 5.6 s, not at the 5 s tick).
  if (endMs - (ticks.at(-1) ?? 0) > tick / 2) ticks.push(endMs);
  for (const t of ticks) {
    s += `<text x="${tx(t).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${esc(formatMs(t))}</text>`;
  }
  s += `<text x="${PAD.l + iw / 2}" y="${H - 4}" text-anchor="middle">time since start (${stepMs} ms steps)</text>`;
  return s + '</svg>';
}

export function htmlReport(r: BenchResult, generatedAt = new Date()): string {
  const l = r.latencyMs;
  const rows = (pairs: Array<[string, string]>) =>
    pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  const errors = ERROR_LABELS.map(
    ([key, label, why]) =>
      `<tr class="${r.errors[key] > 0 ? 'nz' : ''}"><th>${esc(label)}</th><td>${int(r.errors[key])}</td><td>${esc(why)}</td></tr>`,
  ).join('');
  const statuses = Object.entries(r.status)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `<tr class="${k.startsWith('2') ? '' : 'nz'}"><th>${esc(k)}</th><td>${int(v)}</td></tr>`)
    .join('');
  const unanswered = r.unanswered.connections
    .slice(0, 200)
    .map(
      (c) =>
        `<tr><td>#${c.conn}</td><td>${c.thread}</td><td>${esc(c.local)}</td><td>${c.pending}</td><td>${esc(formatMs(c.oldestMs))}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>edgeloop bench — ${esc(r.url)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#222;padding:0 12px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#666;margin:0 0 16px}
table{border-collapse:collapse;margin:4px 0}th,td{padding:3px 12px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600}td{font-variant-numeric:tabular-nums}
tr.nz td,tr.nz th{color:#b00020}
.big{display:flex;gap:28px;flex-wrap:wrap}.big div{min-width:120px}.big b{display:block;font-size:22px}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #eee}
svg text{font-size:11px;fill:#555}
.grid{stroke:#e4e4e4}.bar{fill:#4a7bd0}.mark{stroke:#d07a00;stroke-dasharray:4 3}.marktext{fill:#d07a00}
.ok{fill:none;stroke:#2f8f46;stroke-width:2}.okdot{fill:#2f8f46}.bad{fill:none;stroke:#b00020;stroke-width:2}
.empty{color:#666;font-style:italic}
</style></head><body>
<h1>edgeloop bench</h1>
<p class="sub">${esc(r.method)} ${esc(r.url)} — ${r.connections} connections, ${r.threads} thread(s), ${r.mode}${
    r.pipeline > 1 ? `, pipeline ${r.pipeline}` : ''
  }${r.rate !== null ? `, rate ${int(r.rate)}/s` : ''}${r.interrupted ? ' (interrupted)' : ''}; ${esc(generatedAt.toISOString())}</p>
<div class="big">
<div><b>${int(r.rps)}</b>requests/s</div>
<div><b>${int(r.completed)}</b>answered of ${int(r.requests)}</div>
<div><b>${esc(formatMs(l.p50))}</b>p50 latency</div>
<div><b>${esc(formatMs(l.p99))}</b>p99 latency</div>
<div><b>${esc(formatBytes(r.throughput))}/s</b>read</div>
</div>
<h2>Latency</h2>
<table>${rows([
    ['p50', formatMs(l.p50)],
    ['p90', formatMs(l.p90)],
    ['p99', formatMs(l.p99)],
    ['p99.9', formatMs(l.p999)],
    ['max', formatMs(l.max)],
    ['mean ± stdev', `${formatMs(l.mean)} ± ${formatMs(l.stdev)}`],
  ])}</table>
${r.rate !== null ? '<p>Latency is measured from each request\'s intended send time (coordinated omission corrected).</p>' : ''}
${latencyChart(r)}
<h2>Requests per second over time</h2>
${rpsChart(r)}
<h2>Status codes</h2>
${statuses ? `<table>${statuses}</table>` : '<p class="empty">No responses.</p>'}
<h2>Errors</h2>
<table>${errors}</table>
${
  Object.keys(r.connectErrorCodes).length
    ? `<p>connect errnos: ${esc(Object.entries(r.connectErrorCodes).map(([k, v]) => `${k} ${v}`).join(', '))}</p>`
    : ''
}
${
  r.unanswered.count > 0
    ? `<h2>Unanswered requests</h2><p>${plural(r.unanswered.count, 'request')} on ${plural(r.unanswered.connections.length, 'connection')} had no answer when the run ended.</p>
<table><tr><th>conn</th><th>thread</th><th>local address</th><th>pending</th><th>oldest waited</th></tr>${unanswered}</table>`
    : ''
}
<h2>Run</h2>
<table>${rows([
    ['elapsed', formatMs(r.elapsedMs)],
    ['connections opened', int(r.connects)],
    ...(r.tls !== null
      ? ([['TLS handshakes', `${int(r.tls.handshakes)}, mean ${formatMs(r.tls.meanMs)}, max ${formatMs(r.tls.maxMs)}`]] as Array<[string, string]>)
      : []),
    ...(r.rate !== null ? ([['due by --rate but never sent', int(r.dueNotSent)]] as Array<[string, string]>) : []),
    ['bytes read / written', `${formatBytes(r.bytesIn)} / ${formatBytes(r.bytesOut)}`],
  ])}</table>
</body></html>
`;
}
