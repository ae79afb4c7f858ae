/**
 * `edgeloop doctor (--port P | --pid N) [--seconds S] [--json]`: diagnose a
 * running TCP server, whatever it is written in, from /proc, inet_diag and
 * kcmp. Exit 0: no error-level finding; 1: at least one; 2: target not found
 * or not readable.
 */
import { parseArgs } from 'node:util';
import { TargetError } from '../doctor/discover.js';
import { toJson, toText } from '../doctor/report.js';
import { exitCode, runDoctor } from '../doctor/run.js';

const HELP = `usage: edgeloop doctor (--port P | --pid N) [--seconds S] [--json]

Looks at a running server from outside (C, Go, nginx, Node, edgeloop) and says
what is wrong with how it accepts connections, the evidence, and the fix.

  --port P      every process holding a TCP listener on port P (this network namespace)
  --pid N       process N, its threads and children, and their listeners
  --seconds S   sampling time (default 2); deltas are for this window only
  --json        print { target, listeners, findings } as JSON
  -h, --help    this text

Reads /proc (net/tcp, fd, fdinfo, net/netstat, limits, stat), inet_diag
(backlogs) and kcmp (shared epoll instances). No eBPF, no ptrace stops.
Run as root to see other users' processes.

Finding codes: LISTENER_EDGE_TRIGGERED, LISTENER_ONESHOT, SHARED_EPOLL_HERD,
SHARED_LISTENER_NO_EXCLUSIVE, ACCEPT_QUEUE_OVERFLOW, ACCEPT_QUEUE_NEAR_FULL,
BACKLOG_TRUNCATED, CLOSE_WAIT_UNREAD, ABORT_ON_CLOSE, FD_NEAR_LIMIT,
WORKER_CPU_IMBALANCE, REUSEPORT_GROUP, KERNEL_SETTINGS, NO_LISTENER, LIMITED_VIEW

Exit status: 0 no error-level finding, 1 at least one, 2 target not found or unreadable.`;

function positiveInt(name: string, s: string, max: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}, got '${s}'`);
  return n;
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let values: { port?: string; pid?: string; seconds?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        pid: { type: 'string' },
        seconds: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`edgeloop doctor: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let port: number | undefined;
  let pid: number | undefined;
  let seconds = 2;
  try {
    if ((values.port === undefined) === (values.pid === undefined)) throw new UsageError('give exactly one of --port or --pid');
    if (values.port !== undefined) port = positiveInt('port', values.port, 65535);
    if (values.pid !== undefined) pid = positiveInt('pid', values.pid, 2 ** 22);
    if (values.seconds !== undefined) {
      seconds = Number(values.seconds);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) throw new UsageError(`--seconds must be in (0, 300], got '${values.seconds}'`);
    }
  } catch (err) {
    console.error(`edgeloop doctor: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  try {
    const result = await runDoctor({ pid, port, seconds });
    console.log(values.json ? JSON.stringify(toJson(result), null, 2) : toText(result));
    return exitCode(result.findings);
  } catch (err) {
    if (err instanceof TargetError) {
      if (values.json) console.log(JSON.stringify({ target: { pid: pid ?? null, port: port ?? null }, error: err.message }));
      console.error(`edgeloop doctor: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
