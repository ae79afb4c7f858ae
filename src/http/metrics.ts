/**
 * Prometheus metrics of a server, built on prom-client: every loop's counters
 * are read from the loops' shared-memory slabs (LoopStats) when a scrape
 * asks (prom-client `collect()` callbacks), so nothing per request crosses
 * threads and a scrape costs the same whichever loop serves it.
 * Thread: the loop thread that serves a scrape; each thread builds its own
 * registry on its first scrape. Owns that registry.
 *
 * A new counter is a row in COUNTERS (a gauge: GAUGES) reading a
 * LoopStatsSnapshot field.
 */
import * as client from 'prom-client';
import { DURATION_BUCKETS, type LoopStatsSnapshot } from '../reactor/LoopStats.js';
import type { Handler, HandlerContext } from './options.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';

export const METRICS_CONTENT_TYPE = client.Registry.PROMETHEUS_CONTENT_TYPE;

type Stats = () => LoopStatsSnapshot[];

interface CounterRow {
  name: string;
  help: string;
  /** One value, or one per value of `label`. */
  read: (s: LoopStatsSnapshot) => number | Record<string, number>;
  label?: string;
}

const COUNTERS: readonly CounterRow[] = [
  { name: 'edgeloop_accepted_connections_total', help: 'Connections accepted.', read: (s) => s.accepted },
  { name: 'edgeloop_accept_wakeups_total', help: 'Times a listener was reported readable.', read: (s) => s.acceptWakeups },
  {
    name: 'edgeloop_accept_empty_wakeups_total',
    help: 'Listener wakeups that found nothing to accept (thundering herd).',
    read: (s) => s.acceptEmptyWakeups,
  },
  { name: 'edgeloop_shed_connections_total', help: 'Connections accepted and closed at once because the process ran out of file descriptors.', read: (s) => s.shed },
  { name: 'edgeloop_closed_connections_total', help: 'Connections closed, by reason.', read: (s) => s.closed, label: 'reason' },
  { name: 'edgeloop_received_bytes_total', help: 'Bytes received.', read: (s) => s.bytesIn },
  { name: 'edgeloop_sent_bytes_total', help: 'Bytes sent.', read: (s) => s.bytesOut },
  {
    name: 'edgeloop_proxy_rejected_connections_total',
    help: 'Connections closed unserved for an invalid, missing or late PROXY protocol header.',
    read: (s) => s.proxyRejected,
  },
  { name: 'edgeloop_http_requests_total', help: 'HTTP requests received (heads parsed).', read: (s) => s.requests },
  { name: 'edgeloop_http_responses_total', help: 'HTTP responses sent, by status class.', read: (s) => s.responses, label: 'code' },
  { name: 'edgeloop_tls_handshakes_total', help: 'TLS handshakes completed.', read: (s) => s.tlsHandshakes },
  {
    name: 'edgeloop_tls_handshake_errors_total',
    help: 'TLS handshakes that did not complete: an error, a timeout, or the connection ended first.',
    read: (s) => s.tlsHandshakeErrors,
  },
  {
    name: 'edgeloop_websocket_messages_total',
    help: 'WebSocket data messages, by direction: in received, out queued to send (a publish counts one per subscriber).',
    read: (s) => ({ in: s.wsMessagesIn, out: s.wsMessagesOut }),
    label: 'direction',
  },
];

const GAUGES: readonly { name: string; help: string; read: (s: LoopStatsSnapshot) => number }[] = [
  { name: 'edgeloop_open_connections', help: 'Connections open now.', read: (s) => s.active },
  { name: 'edgeloop_websocket_open_connections', help: 'WebSocket connections open now.', read: (s) => s.wsOpen },
];

const DURATION = 'edgeloop_http_request_duration_seconds';

/** The metrics registry of this thread, reading the slabs through `stats`. */
export function buildRegistry(stats: Stats): client.Registry {
  const registry = new client.Registry();
  for (const row of COUNTERS) {
    const label = row.label ?? '';
    const labelNames = label ? ['loop', label] : ['loop'];
    const counter: client.Counter = new client.Counter({
      name: row.name,
      help: row.help,
      labelNames,
      registers: [registry],
      collect() {
        counter.reset();
        for (const s of stats()) {
          const loop = String(s.loop);
          const v = row.read(s);
          if (typeof v === 'number') counter.inc({ loop }, v);
          else for (const [k, n] of Object.entries(v)) counter.inc({ loop, [label]: k }, n);
        }
      },
    });
  }
  for (const row of GAUGES) {
    const gauge: client.Gauge = new client.Gauge({
      name: row.name,
      help: row.help,
      labelNames: ['loop'],
      registers: [registry],
      collect() {
        gauge.reset();
        for (const s of stats()) gauge.set({ loop: String(s.loop) }, row.read(s));
      },
    });
  }
  registry.registerMetric(durationHistogram(stats) as unknown as client.Metric);
  return registry;
}

/**
 * The request-duration histogram, straight from the slabs' bucket counts. prom-client's
 * Histogram can only observe() one value at a time, so this is a collector in the shape its
 * registry formats (the one its own histograms and cluster aggregation produce).
 */
function durationHistogram(stats: Stats): object {
  const help = 'Time from a request head to the end of its response, by loop.';
  return {
    name: DURATION,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    get() {
      const values: { metricName: string; labels: Record<string, string>; value: number }[] = [];
      for (const s of stats()) {
        const loop = String(s.loop);
        const counts = s.requestSeconds.buckets;
        let cumulative = 0;
        for (let i = 0; i < counts.length; i++) {
          cumulative += counts[i]!;
          const le = i < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[i]) : '+Inf';
          values.push({ metricName: `${DURATION}_bucket`, labels: { loop, le }, value: cumulative });
        }
        values.push({ metricName: `${DURATION}_sum`, labels: { loop }, value: s.requestSeconds.sum });
        values.push({ metricName: `${DURATION}_count`, labels: { loop }, value: cumulative });
      }
      return { name: DURATION, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

/** One registry per server loop of this thread (a thread may run several servers). */
const registries = new WeakMap<HandlerContext, client.Registry>();

/** The Prometheus text of every loop's counters. */
export function metricsText(ctx: HandlerContext): Promise<string> {
  let registry = registries.get(ctx);
  if (registry === undefined) {
    registry = buildRegistry(() => ctx.stats());
    registries.set(ctx, registry);
  }
  return registry.metrics();
}

/** Answers `GET path` (and HEAD) with the metrics; everything else goes to `app`. */
export function withMetrics(path: string, app: Handler): Handler {
  return (req, res, ctx) => {
    if (req.path !== path) return app(req, res, ctx);
    return scrape(req, res, ctx);
  };
}

async function scrape(req: HttpRequest, res: HttpResponse, ctx: HandlerContext): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.status(405).setHeader('Allow', 'GET, HEAD').setHeader('Content-Type', 'text/plain').end('method not allowed\n');
    return;
  }
  const text = await metricsText(ctx);
  res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}
