/**
 * The client side of every scenario: which `edgeloop bench` command line each
 * load runs. Thread: any. Owns nothing.
 *
 * Every load uses a 500 ms connect timeout, as the PHP loop of a field report did
 * (fsockopen(..., 0.5)): shorter than the kernel's first SYN retransmit (1 s),
 * so a SYN dropped at a full accept queue surfaces as a connect timeout, the
 * report's errno 110, instead of a slow connect. A request a server never
 * answers (its connection was never accepted) fails after 1 s.
 */
export type LoadName = 'steady' | 'burst' | 'storm';

export const LOADS: readonly LoadName[] = ['steady', 'burst', 'storm'];

export interface LoadParams {
  seconds: number;
  /** Connections opened at once by the burst load. */
  burst: number;
  /** Concurrent short-connection clients of the storm load. */
  storm: number;
}

export const CONNECT_TIMEOUT_MS = 500;
export const REQUEST_TIMEOUT_MS = 1000;
const GRACE_MS = 1000;

export interface LoadSpec {
  name: LoadName;
  /** What it imitates, for the report. */
  describe: string;
  /** Arguments after `edgeloop bench URL`. */
  args: string[];
}

export function loadSpec(name: LoadName, p: LoadParams): LoadSpec {
  const common = ['--connect-timeout', String(CONNECT_TIMEOUT_MS), '--timeout', String(REQUEST_TIMEOUT_MS), '--grace', String(GRACE_MS)];
  const d = `${Math.round(p.seconds * 1000)}ms`;
  switch (name) {
    case 'steady':
      // The 20-worker field report's `webbench -c 10 -t 5`: ten clients, one short connection per request.
      return { name, describe: `10 clients, a new connection per request, ${p.seconds} s (the webbench -c 10 of the 20-worker field report)`, args: ['--close', '-c', '10', '-d', d, ...common] };
    case 'burst':
      // The ab run of one field report and the slp run of another: many connections arrive while the workers are busy.
      return {
        name,
        describe: `${p.burst} connections opened at once, twice (${2 * p.burst} requests, a new connection each)`,
        args: ['--close', '-c', String(p.burst), '-n', String(2 * p.burst), ...common],
      };
    case 'storm':
      // The errno 110 field report's PHP loop: connect, request, close, again, from many clients at once.
      return {
        name,
        describe: `${p.storm} clients in a connect/close loop for ${p.seconds} s (the PHP loop of the errno 110 field report, 0.5 s connect timeout)`,
        args: ['--close', '-c', String(p.storm), '-d', d, ...common],
      };
  }
}
