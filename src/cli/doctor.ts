/**
 * `edgeloop doctor (--port P | --pid N) [--seconds S] [--json]`: diagnose a
 * running TCP server, whatever it is written in, from /proc, inet_diag and
 * kcmp. Exit 0: no error-level finding; 1: at least one; 2: target not found
 * or not readable.
 */
import { TargetError } from '../doctor/discover.js';
import { toJson, toText } from '../doctor/report.js';
import { exitCode, runDoctor } from '../doctor/run.js';
import { flag, flagHelp, parseFlags, UsageError } from './args.js';

const FLAGS = {
  port: flag.port({ min: 1, help: 'every process holding a TCP listener on port P (this network namespace)' }),
  pid: flag.int({ min: 1, max: 2 ** 22, help: 'process N, its threads and children, and their listeners' }),
  seconds: flag.duration({ bare: 's', min: 1, max: 300_000, help: 'sampling time (default 2s; a bare number is seconds); deltas are for this window only' }),
  json: flag.bool({ help: 'print { target, listeners, findings } as JSON' }),
  help: flag.bool({ short: 'h', help: 'this text' }),
};

const HELP = `usage: edgeloop doctor (--port P | --pid N) [--seconds T] [--json]

Looks at a running server from outside (C, Go, nginx, Node, edgeloop) and says
what is wrong with how it accepts connections, the evidence, and the fix.

${flagHelp(FLAGS)}

Reads /proc (net/tcp, fd, fdinfo, net/netstat, limits, stat), inet_diag
(backlogs, per-listener drops) and kcmp (shared epoll instances). No eBPF,
no ptrace stops.
Run as root to see other users' processes.

Finding codes: LISTENER_EDGE_TRIGGERED, LISTENER_ONESHOT, SHARED_EPOLL_HERD,
SHARED_LISTENER_NO_EXCLUSIVE, ACCEPT_QUEUE_OVERFLOW, ACCEPT_QUEUE_NEAR_FULL,
BACKLOG_TRUNCATED, CLOSE_WAIT_UNREAD, ABORT_ON_CLOSE, FD_NEAR_LIMIT,
WORKER_CPU_IMBALANCE, REUSEPORT_GROUP, KERNEL_SETTINGS, NO_LISTENER, LIMITED_VIEW

Exit status: 0 no error-level finding, 1 at least one, 2 target not found or unreadable.`;

/**
 * Exit 2 with the reason on stderr and, under --json, the same document shape
 * as a run (empty listeners and findings) so scripts can always parse stdout.
 */
function fail(json: boolean, target: { pid?: number | undefined; port?: number | undefined }, reason: string, hint = ''): number {
  if (json) {
    const mode = target.pid !== undefined ? 'pid' : target.port !== undefined ? 'port' : null;
    console.log(
      JSON.stringify({ target: { mode, pid: target.pid ?? null, port: target.port ?? null }, listeners: [], findings: [], error: reason }),
    );
  }
  console.error(`edgeloop doctor: ${reason}${hint}`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  // Known before parsing, so that even a parse error answers in JSON.
  const wantJson = argv.includes('--json');
  let v;
  try {
    ({ values: v } = parseFlags(argv, FLAGS));
    if (v.help) {
      console.log(HELP);
      return 0;
    }
    if ((v.port === undefined) === (v.pid === undefined)) throw new UsageError('give exactly one of --port or --pid');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return fail(wantJson, {}, err.message, ' (see edgeloop doctor --help)');
  }
  const { port, pid } = v;
  const seconds = (v.seconds ?? 2000) / 1000;
  try {
    const result = await runDoctor({ pid, port, seconds });
    console.log(v.json ? JSON.stringify(toJson(result), null, 2) : toText(result));
    return exitCode(result.findings);
  } catch (err) {
    if (err instanceof TargetError) return fail(v.json === true, { pid, port }, err.message);
    // Anything else is doctor's own failure; the CLI exits 2 for it too, and --json must still parse.
    return fail(v.json === true, { pid, port }, `doctor failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
