/**
 * The one-line verdict of a scenario, led by what its field report is about: wasted
 * wakeups for the herd, connections never accepted for edge-triggered
 * accept, connect timeouts and overflows for the backlog. Thread: any. Owns
 * nothing.
 */
import { int, pct, plural } from '../cli/format.js';
import { rowName } from './format.js';
import type { ScenarioResult } from './result.js';

type Facts = Omit<ScenarioResult, 'verdict'>;

function herd(r: Facts): string {
  const d = r.distribution;
  return (
    `${int(r.spuriousWakeups)} of ${int(r.wakeups)} wakeups (${pct(r.spuriousWakeups, r.wakeups)}) found nothing to accept; ` +
    `${int(r.accepted)} connections over ${plural(r.workers.length, 'worker')}, ${int(d.min)}–${int(d.max)} each (stddev ${int(d.stddev)})`
  );
}

function lost(r: Facts): string {
  const tried = r.opened + r.connectTimeouts;
  const head =
    r.neverAccepted > 0
      ? `${int(r.neverAccepted)} of ${int(tried)} connections never accepted` +
        (r.leftInQueue > 0 ? ` (${int(r.leftInQueue)} still in the accept queue at the end)` : '')
      : `all ${int(r.accepted)} connections accepted`;
  return `${head}; ${int(r.failed)} of ${int(r.client.requests)} requests failed`;
}

function backlog(r: Facts): string {
  const q = `accept queue peaked at ${int(r.queue.max)} of backlog ${int(r.server.backlog)}`;
  if (r.connectTimeouts > 0 || r.queue.full > 0) {
    return (
      `${int(r.connectTimeouts)} connect timeouts (the field report's errno 110) of ${int(r.client.requests)} attempts; ` +
      `ListenOverflows +${int(r.listenOverflows)}; ${q}${r.queue.full > 0 ? ', full in ' + int(r.queue.full) + ' samples' : ''}`
    );
  }
  return `no connect timeouts in ${int(r.client.requests)} attempts; ListenOverflows +${int(r.listenOverflows)}; ${q}`;
}

export function verdict(r: Facts): string {
  const kind = r.focus !== 'reference' ? r.focus : r.load === 'steady' ? 'herd' : r.load === 'burst' ? 'lost' : 'backlog';
  const text = kind === 'herd' ? herd(r) : kind === 'lost' ? lost(r) : backlog(r);
  return `${rowName(r)}: ${text}${r.cleanup.ok ? '' : ' [cleanup FAILED]'}`;
}
