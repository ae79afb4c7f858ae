/**
 * `edgeloop lab` command line. Thread: main. Owns nothing.
 */
import { flag, parseFlags, UsageError } from '../cli/args.js';
import { LAB_DEFAULTS, type LabOptions } from './run.js';
import { allScenarios, selectScenarios } from './scenarios.js';

export const USAGE = `usage: edgeloop lab [SCENARIO...] [--workers N] [--seconds T] [--json] [--html FILE]

Runs the field reports' epoll experiments on this kernel: deliberately naive
servers on the raw binding (worker threads sharing the listener and epoll fds
the way the field reports' forked processes did), and edgeloop's own server under the
same loads, all driven by edgeloop bench and looked at by edgeloop doctor.

Scenarios (default: all, in this order):
  herd-lt       N workers in epoll_wait on one shared epoll instance, LT,
                one accept per wakeup: most wake up for nothing
                (field report: 20 workers, 3-4 hot)
  exclusive     one listener, an epoll instance per worker, EPOLLEXCLUSIVE
  reuseport     one SO_REUSEPORT listener per worker: no herd at all
  et-no-drain   shared epoll, EPOLLET, one accept per wakeup: connections
                stay in the accept queue forever (field report: ab
                stalls at 996)
  et-drain      the same with accept until EAGAIN: all accepted
  backlog       a connect/close storm against listen(fd, 8) and against the
                default backlog (field report: errno 110 on short
                connections);
                backlog-8 or backlog-default run one of the two
  edgeloop      edgeloop serve under each load (edgeloop:steady, :burst, :storm)

Loads: steady = 10 clients, a new connection per request, S seconds;
burst = B connections at once, twice; storm = M clients connecting and closing
in a loop for S seconds. Connect timeout 500 ms, request timeout 1 s.

Options:
  --workers N     workers (threads) per naive server, loops for edgeloop (default ${LAB_DEFAULTS.workers}, as in the 20-worker field report)
  --seconds T     length of the steady and storm loads (default ${LAB_DEFAULTS.seconds}s;
                  a bare number is seconds, 500ms and 1m work too)
  --slp T         et-no-drain/et-drain: sleep between wakeup and accept, the
                  20-worker field report's slp (default ${LAB_DEFAULTS.slpMs}ms; a bare number is ms; 0 = none)
  --burst B       connections per burst (default ${LAB_DEFAULTS.burst})
  --storm M       clients in the storm (default ${LAB_DEFAULTS.storm})
  --no-doctor     do not run edgeloop doctor against the servers
  --json          print { scenarios: [...] } as JSON instead of the tables
  --html FILE     also write a self-contained HTML report with charts (its
                  directory is checked before the run)
  -h, --help      this text

Progress goes to stderr. Every scenario closes what it opened: the accept
queue's leftovers are accepted and closed, the workers are joined, and the
report says what was checked.

Exit status: 0 every scenario ran and cleaned up (what the kernel did is a
result, not a failure); 1 a scenario could not run or left something behind;
2 bad arguments.`;

export interface LabCommand {
  help: boolean;
  options: LabOptions;
  json: boolean;
  html?: string;
}

const FLAGS = {
  workers: flag.int({ short: 'w', min: 1, max: 64 }),
  seconds: flag.duration({ short: 's', bare: 's', min: 500, max: 600_000 }),
  slp: flag.duration({ bare: 'ms', min: 0, max: 10_000 }),
  burst: flag.int({ min: 1, max: 20_000 }),
  storm: flag.int({ min: 1, max: 20_000 }),
  'no-doctor': flag.bool(),
  json: flag.bool(),
  html: flag.output(),
  help: flag.bool({ short: 'h' }),
};

export function parseLabArgs(argv: string[]): LabCommand {
  const { values: v, positionals } = parseFlags(argv, FLAGS, { positionals: true });
  const d = LAB_DEFAULTS;
  if (v.help) return { help: true, options: d, json: false };
  const options: LabOptions = {
    scenarios: positionals,
    workers: v.workers ?? d.workers,
    seconds: v.seconds !== undefined ? v.seconds / 1000 : d.seconds,
    slpMs: v.slp ?? d.slpMs,
    burst: v.burst ?? d.burst,
    storm: v.storm ?? d.storm,
    doctor: !v['no-doctor'],
  };
  // Unknown names are a usage error, found before anything starts.
  try {
    selectScenarios(allScenarios({ workers: options.workers, slpMs: options.slpMs, somaxconn: 4096 }), options.scenarios);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { help: false, options, json: v.json ?? false, ...(v.html !== undefined ? { html: v.html } : {}) };
}
