import { REQUEST_KINDS } from '@ps/core';
import {
  Counter,
  Gauge,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import type { NodeReading, NodeSource } from './node-reading.js';

type Labels = Record<string, string | number>;
type Fill = (readings: readonly NodeReading[], put: (labels: Labels, value: number) => void) => void;

/** The name of every metric family a {@link NodeMetricsRegistry} serves (see docs/metrics.md). */
export const METRIC_NAMES = [
  'ps_node_info',
  'ps_requests_total',
  'ps_push_requests_total',
  'ps_pull_requests_total',
  'ps_bytes_sent_total',
  'ps_bytes_received_total',
  'ps_frames_rejected_total',
  'ps_request_duration_seconds',
  'ps_stored_keys',
  'ps_stored_bytes',
  'ps_replica_bytes_sent_total',
  'ps_replication_unacknowledged',
  'ps_replication_oldest_unacknowledged_seconds',
  'ps_heartbeat_age_seconds',
  'ps_member_heartbeat_age_seconds',
  'ps_filter_bytes_in_total',
  'ps_filter_bytes_out_total',
  'ps_filter_bytes_saved',
] as const;

/**
 * The Prometheus metrics of the nodes of this process, with prom-client (Node only: `@ps/core`
 * keeps plain counters and stays usable in a browser). Each node is added as a
 * {@link NodeSource}; its counters are read only when the registry is scraped (`metrics()`,
 * `getMetricsAsJSON()`), so a node pays nothing for metrics nobody reads. Every series is
 * labelled `node` (the node id) and `role`, and `app`, `kind` or `filter` where they apply.
 */
export class NodeMetricsRegistry {
  /** The prom-client registry (serve it with `registry.metrics()`, `registry.contentType`). */
  readonly registry = new Registry();
  private readonly sources = new Set<NodeSource>();

  constructor() {
    this.define();
  }

  /** Adds a node; returns what removes it again (a node that stopped, or started over). */
  add(source: NodeSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /** The metrics in Prometheus' text format (what `/metrics` serves). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The metrics as prom-client's JSON (what a launcher merges with `AggregatorRegistry.aggregate`). */
  getMetricsAsJSON(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.registry.getMetricsAsJSON();
  }

  private read(): NodeReading[] {
    return [...this.sources].map((s) => s());
  }

  private counter(name: string, help: string, labelNames: string[], fill: Fill): void {
    const read = () => this.read();
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill(read(), (labels, v) => this.inc(labels, v));
      },
    });
  }

  private gauge(name: string, help: string, labelNames: string[], fill: Fill): void {
    const read = () => this.read();
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        fill(read(), (labels, v) => this.set(labels, v));
      },
    });
  }

  private define(): void {
    const nr = ['node', 'role'];
    const app = ['node', 'role', 'app'];
    const id = (r: NodeReading) => ({ node: r.node, role: r.role });
    const perApp = (pick: (a: NodeReading['apps'][number]) => number | undefined): Fill => {
      return (rs, put) => {
        for (const r of rs)
          for (const a of r.apps) {
            const v = pick(a);
            if (v !== undefined) put({ ...id(r), app: a.app }, v);
          }
      };
    };
    const perNode = (pick: (r: NodeReading) => number): Fill => {
      return (rs, put) => {
        for (const r of rs) put(id(r), pick(r));
      };
    };
    this.gauge(
      'ps_node_info',
      'A node of the cluster (value 1), with its rank in its role.',
      [...nr, 'rank'],
      (rs, put) => {
        for (const r of rs) put({ ...id(r), rank: r.rank }, 1);
      },
    );
    this.counter(
      'ps_requests_total',
      'Data requests by kind (push, pull, pushPull): sent by a worker, admitted by a server (one per slice).',
      [...app, 'kind'],
      (rs, put) => {
        for (const r of rs)
          for (const a of r.apps)
            for (const k of REQUEST_KINDS) put({ ...id(r), app: a.app, kind: k }, a.requests[k]);
      },
    );
    this.counter(
      'ps_push_requests_total',
      'Push requests (push and pushPull): sent by a worker, admitted by a server (one per slice).',
      app,
      perApp((a) => a.requests.push + a.requests.pushPull),
    );
    this.counter(
      'ps_pull_requests_total',
      'Pull requests (pull and pushPull): sent by a worker, admitted by a server (one per slice).',
      app,
      perApp((a) => a.requests.pull + a.requests.pushPull),
    );
    this.counter(
      'ps_bytes_sent_total',
      'Bytes the node handed to its transport (frames, headers included).',
      nr,
      perNode((r) => r.traffic.bytesSent),
    );
    this.counter(
      'ps_bytes_received_total',
      'Bytes the node received from its transport.',
      nr,
      perNode((r) => r.traffic.bytesReceived),
    );
    this.counter(
      'ps_frames_rejected_total',
      'Frames rejected as malformed, truncated or invalid.',
      nr,
      perNode((r) => r.traffic.framesRejected),
    );
    this.registry.registerMetric(durationHistogram(() => this.read()));
    this.gauge(
      'ps_stored_keys',
      "Keys a server's table holds.",
      app,
      perApp((a) => a.storedKeys),
    );
    this.gauge(
      'ps_stored_bytes',
      "Bytes of a server's value slabs (allocated, every state of the update rule), in bytes.",
      app,
      perApp((a) => a.storedBytes),
    );
    this.counter(
      'ps_replica_bytes_sent_total',
      'Segment bytes a server sent to other servers to replicate (forwards and range copies, first sends).',
      app,
      perApp((a) => a.replicaBytes),
    );
    this.gauge(
      'ps_replication_unacknowledged',
      'Forwards and range copies a server sent that a replica has not acknowledged yet.',
      app,
      perApp((a) => a.replicationUnacknowledged),
    );
    this.gauge(
      'ps_replication_oldest_unacknowledged_seconds',
      'How long the oldest unacknowledged forward or copy has waited, in seconds (0: none).',
      app,
      perApp((a) => a.replicationOldestSeconds),
    );
    this.gauge(
      'ps_heartbeat_age_seconds',
      'Seconds since the node last heard from the scheduler.',
      nr,
      (rs, put) => {
        for (const r of rs) if (r.heartbeatAgeSeconds !== undefined) put(id(r), r.heartbeatAgeSeconds);
      },
    );
    this.gauge(
      'ps_member_heartbeat_age_seconds',
      'On the scheduler: seconds since it last heard from each live node (member, member_role).',
      [...nr, 'member', 'member_role'],
      (rs, put) => {
        for (const r of rs)
          for (const m of r.members ?? []) put({ ...id(r), member: m.node, member_role: m.role }, m.seconds);
      },
    );
    const perFilter = (pick: (f: NodeReading['filters'][number]) => number): Fill => {
      return (rs, put) => {
        for (const r of rs) for (const f of r.filters) put({ ...id(r), filter: f.filter }, pick(f));
      };
    };
    const fl = [...nr, 'filter'];
    this.counter(
      'ps_filter_bytes_in_total',
      'Segment bytes a filter was given to encode.',
      fl,
      perFilter((f) => f.bytesIn),
    );
    this.counter(
      'ps_filter_bytes_out_total',
      'Segment bytes a filter produced.',
      fl,
      perFilter((f) => f.bytesOut),
    );
    this.gauge(
      'ps_filter_bytes_saved',
      'Bytes a filter saved (in minus out; negative when it grew the data).',
      fl,
      perFilter((f) => f.bytesIn - f.bytesOut),
    );
  }
}

/**
 * `ps_request_duration_seconds`: the workers' request durations, from buckets the nodes keep
 * themselves (core's `RequestMetrics`), exported as a Prometheus histogram at scrape time. It is
 * a metric object of prom-client's own shape (what `AggregatorRegistry.aggregate` registers),
 * since prom-client's `Histogram` only counts observations made through it.
 */
function durationHistogram(read: () => NodeReading[]): Metric {
  const name = 'ps_request_duration_seconds';
  const help = "A worker's data requests from send to answer, by kind, in seconds.";
  const get = () => {
    const values: { labels: Labels; value: number; metricName: string }[] = [];
    for (const r of read())
      for (const a of r.apps) {
        if (!a.durations) continue;
        for (const kind of REQUEST_KINDS) {
          const h = a.durations[kind];
          const labels = { node: r.node, role: r.role, app: a.app, kind };
          let cum = 0;
          h.bounds.forEach((le, i) => {
            cum += h.counts[i]!;
            values.push({ labels: { ...labels, le }, value: cum, metricName: `${name}_bucket` });
          });
          values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
          values.push({ labels, value: h.sum, metricName: `${name}_sum` });
          values.push({ labels, value: h.count, metricName: `${name}_count` });
        }
      }
    return { name, help, type: 'histogram', aggregator: 'sum', values };
  };
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => get(),
    reset: () => undefined,
  };
  return metric as unknown as Metric;
}
