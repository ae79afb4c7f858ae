/**
 * The field reports the lab's experiments come from (docs/pitfalls.md), in the
 * one line the reports print where they mean one. Thread: any. Owns nothing.
 */
export const FIELD_REPORTS = {
  etStall: 'ab stalls at 996: an edge-triggered listener, ab -n 1000 -c 94 -k stops at 996 of 1000',
  herd: '20 workers, 3-4 hot: forked workers share one listener, the rest wake up to accept() = EAGAIN',
  shortConnections: 'errno 110 on short connections: a connect/close loop times out at a full accept queue',
} as const;

export type FieldReport = keyof typeof FIELD_REPORTS;
