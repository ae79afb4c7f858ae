/**
 * The lab's scenarios: one naive server per field report's experiment, and edgeloop's
 * own server under each load for comparison. Thread: any. Owns nothing.
 */
import type { NaiveConfig } from './naive/config.js';
import type { LoadName } from './loads.js';
import { plural } from '../cli/format.js';
import type { FieldReport } from './fieldReports.js';

export interface LabParams {
  workers: number;
  /** The `slp` of the 20-worker field report: a sleep before accept, for the edge-triggered pair. */
  slpMs: number;
  /** net.core.somaxconn: the default backlog, as edgeloop's. */
  somaxconn: number;
}

export type ServerSpec = { kind: 'naive'; config: NaiveConfig } | { kind: 'edgeloop'; loops: number };

export interface Scenario {
  /** Row name; several edgeloop rows share the name and differ by load. */
  name: string;
  load: LoadName;
  /** The field report it reproduces. */
  report: FieldReport;
  /** How the server waits and accepts, in one line. */
  describe: string;
  /** What the verdict leads with. */
  focus: 'herd' | 'lost' | 'backlog' | 'reference';
  server: ServerSpec;
}

/** The names the command line accepts, and what each selects. */
export const SCENARIO_NAMES = ['herd-lt', 'et-no-drain', 'et-drain', 'exclusive', 'reuseport', 'backlog', 'edgeloop'] as const;

const HOST = '127.0.0.1';

function naive(p: LabParams, c: Partial<NaiveConfig> & Pick<NaiveConfig, 'topology'>): ServerSpec {
  return {
    kind: 'naive',
    config: {
      workers: p.workers,
      edgeTriggered: false,
      exclusive: false,
      accept: 'one',
      slpMs: 0,
      backlog: p.somaxconn,
      host: HOST,
      ...c,
    },
  };
}

/** Every scenario, in run order: grouped by load so each group ends with edgeloop under that load. */
export function allScenarios(p: LabParams): Scenario[] {
  const n = p.workers;
  const slp = p.slpMs > 0 ? `, ${p.slpMs} ms sleep before accept (the 20-worker field report's slp)` : '';
  return [
    {
      name: 'herd-lt',
      load: 'steady',
      report: 'herd',
      describe: `${plural(n, 'worker')} in epoll_wait on one shared epoll instance, listener level-triggered, one accept per wakeup`,
      focus: 'herd',
      server: naive(p, { topology: 'shared-epoll' }),
    },
    {
      name: 'exclusive',
      load: 'steady',
      report: 'herd',
      describe: `one listener, one epoll instance per worker (${n}), EPOLLEXCLUSIVE, one accept per wakeup`,
      focus: 'herd',
      server: naive(p, { topology: 'epoll-per-worker', exclusive: true }),
    },
    {
      name: 'reuseport',
      load: 'steady',
      report: 'herd',
      describe: `${n} SO_REUSEPORT listeners, one epoll instance per worker, one accept per wakeup`,
      focus: 'herd',
      server: naive(p, { topology: 'reuseport' }),
    },
    { name: 'edgeloop', load: 'steady', report: 'herd', describe: edgeloopDescribe(n), focus: 'reference', server: { kind: 'edgeloop', loops: n } },
    {
      name: 'et-no-drain',
      load: 'burst',
      report: 'etStall',
      describe: `${plural(n, 'worker')} on one shared epoll instance, listener EPOLLET, one accept per wakeup${slp}`,
      focus: 'lost',
      server: naive(p, { topology: 'shared-epoll', edgeTriggered: true, slpMs: p.slpMs }),
    },
    {
      name: 'et-drain',
      load: 'burst',
      report: 'herd',
      describe: `${plural(n, 'worker')} on one shared epoll instance, listener EPOLLET, accept until EAGAIN${slp}`,
      focus: 'lost',
      server: naive(p, { topology: 'shared-epoll', edgeTriggered: true, accept: 'drain', slpMs: p.slpMs }),
    },
    { name: 'edgeloop', load: 'burst', report: 'etStall', describe: edgeloopDescribe(n), focus: 'reference', server: { kind: 'edgeloop', loops: n } },
    {
      name: 'backlog-8',
      load: 'storm',
      report: 'shortConnections',
      describe: `listen(fd, 8); ${plural(n, 'worker')} on one shared epoll instance, level-triggered, accept until EAGAIN`,
      focus: 'backlog',
      server: naive(p, { topology: 'shared-epoll', accept: 'drain', backlog: 8 }),
    },
    {
      name: 'backlog-default',
      load: 'storm',
      report: 'shortConnections',
      describe: `the same server with listen(fd, ${p.somaxconn}) (net.core.somaxconn, edgeloop's default)`,
      focus: 'backlog',
      server: naive(p, { topology: 'shared-epoll', accept: 'drain' }),
    },
    { name: 'edgeloop', load: 'storm', report: 'shortConnections', describe: edgeloopDescribe(n), focus: 'reference', server: { kind: 'edgeloop', loops: n } },
  ];
}

function edgeloopDescribe(n: number): string {
  return `edgeloop serve --loops ${n}: its defaults (SO_REUSEPORT listener per loop, level-triggered, accept until EAGAIN, backlog = somaxconn)`;
}

/**
 * Picks scenarios by name: a naive scenario's name, `backlog` (both backlog
 * rows), `edgeloop` (every load) or `edgeloop:LOAD`. No names: all of them.
 * Throws on an unknown name.
 */
export function selectScenarios(all: Scenario[], names: string[]): Scenario[] {
  if (names.length === 0) return all;
  const picked = new Set<Scenario>();
  for (const raw of names) {
    const [base, load] = raw.split(':', 2) as [string, string | undefined];
    const hits = all.filter(
      (s) =>
        (s.name === base || (base === 'backlog' && s.name.startsWith('backlog-'))) &&
        (load === undefined || s.load === load),
    );
    if (hits.length === 0) {
      throw new Error(
        `unknown scenario '${raw}': expected one of ${SCENARIO_NAMES.join(', ')}, backlog-8, backlog-default, or edgeloop:steady|burst|storm`,
      );
    }
    hits.forEach((h) => picked.add(h));
  }
  // Run order stays the catalog's, whatever order the names came in.
  return all.filter((s) => picked.has(s));
}
