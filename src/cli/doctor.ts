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
import { attachNegativeValues } from './options.js';

const flags = {
  port: { type: 'string' },
  pid: { type: 'string' },
  seconds: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: edgeloop doctor (--port P | --pid N) [--seconds S] [--json]

Looks at a running server from outside (C, Go, nginx, Node, edgeloop) and says
what is wrong with how it accepts connections, the evidence, and the fix.

  --port P      every process holding a TCP listener on port P (this network namespace)
  --pid N       process N, its threads and children, and their listeners
  --seconds S   sampling time (default 2); deltas are for this window only
  --json        print { target, listeners, findings } as JSON
  -h, --help    this text

Reads /proc (net/tcp, fd, fdinfo, net/netstat, limits, stat), inet_diag
(backlogs, per-listener drops) and kcmp (shared epoll instances). No eBPF,
no ptrace stops.
Run as root to see other users' processes.

Finding codes: LISTENER_EDGE_TRIGGERED, LISTENER_ONESHOT, SHARED_EPOLL_HERD,
SHARED_LISTENER_NO_EXCLUSIVE, ACCEPT_QUEUE_OVERFLOW, ACCEPT_QUEUE_NEAR_FULL,
BACKLOG_TRUNCATED, CLOSE_WAIT_UNREAD, ABORT_ON_CLOSE, FD_NEAR_LIMIT,
WORKER_CPU_IMBALANCE, REUSEPORT_GROUP, KERNEL_SETTINGS, NO_LISTENER, LIMITED_VIEW

Exit status: 0 no error-level finding, 1 at least one, 2 target not found or unreadable.`;

// Plain decimals only: Number() would also take '0x50', '1e3', ' 80' and '80.0',
// so a typo could silently pick another port or sample for minutes.
const DECIMAL_INT = /^[0-9]+$/;
const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;

function positiveInt(name: string, s: string, max: number): number {
  const n = DECIMAL_INT.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}, got '${s}'`);
  return n;
}

class UsageError extends Error {}

/**
 * Exit 2 with the reason on stderr and, under --json, the same document shape
 * as a run (empty listeners and findings) so scripts can always parse stdout.
 */
function fail(json: boolean, target: { pid?: number; port?: number }, reason: string, help = false): number {
  if (json) {
    const mode = target.pid !== undefined ? 'pid' : target.port !== undefined ? 'port' : null;
    console.log(
      JSON.stringify({ target: { mode, pid: target.pid ?? null, port: target.port ?? null }, listeners: [], findings: [], error: reason }),
    );
  }
  console.error(`edgeloop doctor: ${reason}${help ? `\n\n${HELP}` : ''}`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  // Known before parsing, so that even a parse error answers in JSON.
  const wantJson = argv.includes('--json');
  let values: { port?: string; pid?: string; seconds?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: attachNegativeValues(argv, flags),
      options: flags,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return fail(wantJson, {}, err instanceof Error ? err.message : String(err), true);
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
      seconds = DECIMAL.test(values.seconds) ? Number(values.seconds) : NaN;
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) throw new UsageError(`--seconds must be in (0, 300], got '${values.seconds}'`);
    }
  } catch (err) {
    return fail(wantJson, { pid, port }, (err as Error).message, true);
  }
  try {
    const result = await runDoctor({ pid, port, seconds });
    console.log(values.json ? JSON.stringify(toJson(result), null, 2) : toText(result));
    return exitCode(result.findings);
  } catch (err) {
    if (err instanceof TargetError) return fail(values.json === true, { pid, port }, err.message);
    // Anything else is doctor's own failure; the CLI exits 2 for it too, and --json must still parse.
    return fail(values.json === true, { pid, port }, `doctor failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
