/**
 * The summary printed after a run. Thread: main. Owns nothing.
 * Every error bucket is printed even when zero: "0 connect timeouts" is a
 * finding, and a missing line would leave the reader guessing.
 */
import type { BenchResult } from './result.js';
import { formatBytes, formatMs, int, plural } from '../cli/format.js';

export const ERROR_LABELS: Array<[keyof BenchResult['errors'], string, string]> = [
  ['connectRefused', 'connect refused', 'ECONNREFUSED: nothing listening on that port'],
  ['connectTimeout', 'connect timeout', 'no SYN-ACK in time: host down or accept queue full (errno 110)'],
  ['connectError', 'connect failed', 'another connect errno (see codes)'],
  ['status', 'handshake refused', 'the WebSocket upgrade was answered without 101 (see status)'],
  ['reset', 'connection reset', 'the server sent RST with requests in flight'],
  ['closed', 'closed early', 'the server closed before a full response'],
  ['timeout', 'request timeout', 'no full response within --timeout'],
  ['malformed', 'malformed response', 'bytes that are not valid HTTP/1.x framing'],
  ['non2xx', 'non-2xx status', 'answered, with a status outside 200-299'],
  ['unanswered', 'unanswered', 'still in flight when the run ended'],
];

export function humanReport(r: BenchResult): string {
  const out: string[] = [];
  const ws = r.mode === 'websocket';
  const threads = plural(r.threads, 'thread');
  const extra = [r.pipeline > 1 ? `pipeline ${r.pipeline}` : '', r.rate !== null ? `rate ${int(r.rate)}/s` : '']
    .filter(Boolean)
    .join(', ');
  out.push(
    ws ? `edgeloop bench ${r.url}` : `edgeloop bench ${r.method} ${r.url}`,
    `  ${plural(r.connections, 'connection')}, ${threads}, ${r.mode}${extra ? `, ${extra}` : ''}${r.interrupted ? '  (interrupted)' : ''}`,
    '',
    ws
      ? `  messages    ${int(r.requests)} in ${formatMs(r.elapsedMs)}, ${int(r.completed)} echoed` +
          (r.connects > r.connections ? `, ${plural(r.connects, 'connection')} opened` : '')
      : `  requests    ${int(r.requests)} in ${formatMs(r.elapsedMs)}, ${int(r.completed)} answered` +
          (r.mode === 'close' || r.connects > r.connections ? `, ${plural(r.connects, 'connection')} opened` : ''),
    `  rate        ${r.rps.toFixed(1)} ${ws ? 'messages/s' : 'req/s'}   ${formatBytes(r.throughput)}/s read` +
      `   (${formatBytes(r.bytesIn)} read, ${formatBytes(r.bytesOut)} written)`,
  );

  if (r.tls !== null) {
    out.push(
      `  tls         ${int(r.tls.handshakes)} handshake${r.tls.handshakes === 1 ? '' : 's'}` +
        (r.tls.handshakes > 0 ? `, mean ${formatMs(r.tls.meanMs)}, max ${formatMs(r.tls.maxMs)} (TCP connected to handshake done)` : ''),
    );
  }
  if (r.rate !== null && r.dueNotSent > 0) {
    out.push(
      `  behind      ${plural(r.dueNotSent, 'request')} ${r.dueNotSent === 1 ? 'was' : 'were'} due by the --rate schedule but never sent: ` +
        'the server (or this client) could not keep up',
    );
  }
  const l = r.latencyMs;
  if (r.completed > 0) {
    const cols: Array<[string, number]> = [
      ['p50', l.p50],
      ['p90', l.p90],
      ['p99', l.p99],
      ['p99.9', l.p999],
      ['max', l.max],
    ];
    out.push(
      `  latency     ${cols.map(([k]) => k.padStart(9)).join('')}     mean ${formatMs(l.mean)}, stdev ${formatMs(l.stdev)}`,
      `              ${cols.map(([, v]) => formatMs(v).padStart(9)).join('')}` +
        (r.rate !== null ? '     (from intended send time)' : ''),
    );
  } else {
    out.push('  latency     no responses');
  }

  const statuses = Object.entries(r.status).sort(([a], [b]) => Number(a) - Number(b));
  out.push(`  status      ${statuses.length ? statuses.map(([k, v]) => `${k}: ${int(v)}`).join('   ') : 'none'}`);

  out.push('  errors');
  for (const [key, label, why] of ERROR_LABELS) {
    const n = r.errors[key];
    out.push(`    ${label.padEnd(20)}${int(n).padStart(10)}${n > 0 ? `   ${why}` : ''}`);
  }
  const codes = Object.entries(r.connectErrorCodes);
  if (codes.length) out.push(`    connect errnos: ${codes.map(([k, v]) => `${k} ${int(v)}`).join(', ')}`);
  const closes = Object.entries(r.closeCodes);
  if (closes.length) out.push(`    close codes: ${closes.map(([k, v]) => `${k} ${int(v)}`).join(', ')}`);

  if (r.unanswered.count > 0) {
    const conns = r.unanswered.connections;
    out.push(`  unanswered  ${plural(r.unanswered.count, 'request')} on ${plural(conns.length, 'connection')}:`);
    for (const c of conns.slice(0, 10)) {
      out.push(
        `    conn #${c.conn} (thread ${c.thread}, local ${c.local}): ${c.pending} pending, oldest waited ${formatMs(c.oldestMs)}`,
      );
    }
    if (conns.length > 10) out.push(`    ... and ${conns.length - 10} more (see --json)`);
  }

  const failed =
    r.errors.connectRefused +
    r.errors.connectTimeout +
    r.errors.connectError +
    r.errors.status +
    r.errors.reset +
    r.errors.closed +
    r.errors.timeout +
    r.errors.malformed;
  out.push(
    `  accounted   ${int(r.requests)} ${ws ? 'messages' : 'requests'} = ${int(r.completed)} ${ws ? 'echoed' : 'answered'} + ${int(failed)} failed + ${int(r.unanswered.count)} unanswered`,
  );
  return out.join('\n');
}
