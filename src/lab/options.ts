/**
 * `edgeloop lab` command line. Thread: main. Owns nothing.
 */
import { parseArgs } from 'node:util';
import { LAB_DEFAULTS, type LabOptions } from './run.js';
import { allScenarios, selectScenarios } from './scenarios.js';

export class LabUsageError extends Error {
  override name = 'LabUsageError';
}

export const USAGE = `usage: edgeloop lab [SCENARIO...] [--workers N] [--seconds S] [--json] [--html FILE]

Runs the field reports' epoll experiments on this kernel: deliberately naive
servers on the raw binding (worker threads sharing the listener and epoll fds
the way the seeds' forked processes did), and edgeloop's own server under the
same loads, all driven by edgeloop bench and looked at by edgeloop doctor.

Scenarios (default: all, in this order):
  herd-lt       N workers in epoll_wait on one shared epoll instance, LT,
                one accept per wakeup: most wake up for nothing (seed 002)
  exclusive     one listener, an epoll instance per worker, EPOLLEXCLUSIVE
  reuseport     one SO_REUSEPORT listener per worker: no herd at all
  et-no-drain   shared epoll, EPOLLET, one accept per wakeup: connections
                stay in the accept queue forever (seeds 000 and 002)
  et-drain      the same with accept until EAGAIN: all accepted
  backlog       a connect/close storm against listen(fd, 8) and against the
                default backlog (seed 004: connect timeouts, errno 110);
                backlog-8 or backlog-default run one of the two
  edgeloop      edgeloop serve under each load (edgeloop:steady, :burst, :storm)

Loads: steady = 10 clients, a new connection per request, S seconds;
burst = B connections at once, twice; storm = M clients connecting and closing
in a loop for S seconds. Connect timeout 500 ms, request timeout 1 s.

Options:
  --workers N     workers (threads) per naive server, loops for edgeloop (default ${LAB_DEFAULTS.workers}, as in seed 002)
  --seconds S     length of the steady and storm loads (default ${LAB_DEFAULTS.seconds})
  --slp MS        et-no-drain/et-drain: sleep between wakeup and accept, the
                  seed's slp (default ${LAB_DEFAULTS.slpMs}; 0 = none)
  --burst B       connections per burst (default ${LAB_DEFAULTS.burst})
  --storm M       clients in the storm (default ${LAB_DEFAULTS.storm})
  --no-doctor     do not run edgeloop doctor against the servers
  --json          print { scenarios: [...] } as JSON instead of the tables
  --html FILE     also write a self-contained HTML report with charts
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

function whole(name: string, raw: string | undefined, min: number, max: number, dflt: number): number {
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw)) throw new LabUsageError(`--${name} expects a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new LabUsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function parseLabArgs(argv: string[]): LabCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        workers: { type: 'string', short: 'w' },
        seconds: { type: 'string', short: 's' },
        slp: { type: 'string' },
        burst: { type: 'string' },
        storm: { type: 'string' },
        'no-doctor': { type: 'boolean' },
        json: { type: 'boolean' },
        html: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new LabUsageError(err instanceof Error ? err.message.split(/\.\s/)[0]! : String(err));
  }
  const v = parsed.values;
  const d = LAB_DEFAULTS;
  if (v.help) return { help: true, options: d, json: false };

  let seconds = d.seconds;
  if (v.seconds !== undefined) {
    seconds = Number(v.seconds.replace(/s$/, ''));
    if (v.seconds.trim() === '' || !Number.isFinite(seconds) || seconds < 0.5 || seconds > 600) {
      throw new LabUsageError(`--seconds must be a number from 0.5 to 600, got '${v.seconds}'`);
    }
  }
  const options: LabOptions = {
    scenarios: parsed.positionals,
    workers: whole('workers', v.workers, 1, 64, d.workers),
    seconds,
    slpMs: whole('slp', v.slp, 0, 10_000, d.slpMs),
    burst: whole('burst', v.burst, 1, 20_000, d.burst),
    storm: whole('storm', v.storm, 1, 20_000, d.storm),
    doctor: !v['no-doctor'],
  };
  // Unknown names are a usage error, found before anything starts.
  try {
    selectScenarios(allScenarios({ workers: options.workers, slpMs: options.slpMs, somaxconn: 4096 }), options.scenarios);
  } catch (err) {
    throw new LabUsageError((err as Error).message);
  }
  if (v.html !== undefined && v.html.trim() === '') throw new LabUsageError('--html expects a file name');
  return { help: false, options, json: v.json ?? false, ...(v.html !== undefined ? { html: v.html } : {}) };
}

