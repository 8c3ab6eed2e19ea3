import { createServer, createWorker, type KVPairs, Scheduler, sumHandler } from '@ps/core';
import { quantize } from '@ps/filters';
import { InprocHub, inproc } from '@ps/transport-inproc';
import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC_NAMES, NodeMetricsRegistry } from './node-metrics-registry.js';
import { schedulerSource, serverSource, workerSource } from './node-reading.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});

/** A scheduler, two servers holding each range twice (replicas 1), one worker; all over inproc. */
async function cluster() {
  const hub = new InprocHub();
  const scheduler = await Scheduler.start({
    transport: inproc({ hub }),
    host: '127.0.0.1',
    port: 0,
    numServers: 2,
    numWorkers: 1,
    replicas: 1,
    logger: quiet,
  });
  closers.push(() => scheduler.shutdown());
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const filters = () => [quantize({ bits: 16, seed: 1 })];
  const serverFilters = [filters(), filters()];
  const workerFilters = filters();
  const started = await Promise.all([
    ...serverFilters.map((f) =>
      createServer({
        transport: inproc({ hub }),
        scheduler: at,
        host: '127.0.0.1',
        logger: quiet,
        handler: sumHandler(),
        filters: f,
      }),
    ),
    createWorker({
      transport: inproc({ hub }),
      scheduler: at,
      host: '127.0.0.1',
      logger: quiet,
      filters: workerFilters,
    }),
  ]);
  const servers = started.slice(0, 2) as Awaited<ReturnType<typeof createServer>>[];
  const worker = started[2] as Awaited<ReturnType<typeof createWorker>>;
  for (const x of started) closers.push(() => x.node.close());
  const metrics = new NodeMetricsRegistry();
  metrics.add(schedulerSource(scheduler));
  for (const [i, s] of servers.entries()) metrics.add(serverSource(s.node, s.servers, serverFilters[i]));
  metrics.add(workerSource(worker.node, worker.workers, workerFilters));
  return { scheduler, servers, worker, metrics, serverFilters, workerFilters };
}

type Json = MetricObjectWithValues<MetricValue<string>>[];
const nameOf = (v: MetricValue<string>) => (v as MetricValueWithName<string>).metricName;

/** The values of one family whose labels include `match`, with their labels. */
function series(json: Json, name: string, match: Record<string, string | number> = {}) {
  const family = json.find((m) => m.name === name);
  if (!family) throw new Error(`no metric family ${name}`);
  return family.values.filter((v) =>
    Object.entries(match).every(
      ([k, want]) => String((v.labels as Record<string, unknown>)[k]) === String(want),
    ),
  );
}
const one = (json: Json, name: string, match: Record<string, string | number>) => {
  const s = series(json, name, match);
  expect(s, `${name} ${JSON.stringify(match)}`).toHaveLength(1);
  return s[0]!.value;
};
const sum = (json: Json, name: string, match: Record<string, string | number>) =>
  series(json, name, match).reduce((n, v) => n + v.value, 0);

const kv = (key: bigint, v: number): KVPairs => ({
  keys: BigUint64Array.of(key),
  vals: Float32Array.of(v, v, v, v),
});
// One key per request: each request goes to exactly one server (its key's master).
const KEYS = [3n, 1n << 62n, 2n << 62n, 3n << 62n];

describe('NodeMetricsRegistry over an inproc cluster', () => {
  it('names every family it serves, and each node once in ps_node_info with its role and rank', async () => {
    const c = await cluster();
    const json = await c.metrics.getMetricsAsJSON();
    expect(json.map((m) => m.name).sort()).toEqual([...METRIC_NAMES].sort());
    const info = series(json, 'ps_node_info').map((v) => v.labels);
    expect(info).toHaveLength(4);
    expect(info).toContainEqual({ node: 'scheduler', role: 'scheduler', rank: -1 });
    expect(info).toContainEqual({ node: c.worker.node.id, role: 'worker', rank: 0 });
    for (const s of c.servers)
      expect(info).toContainEqual({ node: s.node.id, role: 'server', rank: s.node.rank });
    // Prometheus' text format too.
    const text = await c.metrics.metrics();
    expect(text).toContain(`ps_node_info{node="${c.worker.node.id}",role="worker",rank="0"} 1`);
  });

  it('counts requests by kind on the worker and on the servers, and times each on the worker', async () => {
    const c = await cluster();
    const w = c.worker.worker;
    const before = await c.metrics.getMetricsAsJSON();
    expect(sum(before, 'ps_requests_total', {})).toBe(0);
    for (const [i, k] of KEYS.slice(0, 3).entries()) await w.wait(w.push(kv(k, i + 1)));
    await w.wait(w.pull(BigUint64Array.of(KEYS[0]!)));
    await w.wait(w.pull(BigUint64Array.of(KEYS[1]!)));
    await w.wait(w.pushPull(kv(KEYS[3]!, 5)));
    const json = await c.metrics.getMetricsAsJSON();
    const me = { node: c.worker.node.id, role: 'worker', app: 0 };
    expect(one(json, 'ps_requests_total', { ...me, kind: 'push' })).toBe(3);
    expect(one(json, 'ps_requests_total', { ...me, kind: 'pull' })).toBe(2);
    expect(one(json, 'ps_requests_total', { ...me, kind: 'pushPull' })).toBe(1);
    expect(one(json, 'ps_push_requests_total', me)).toBe(4);
    expect(one(json, 'ps_pull_requests_total', me)).toBe(3);
    // Each request had one key: the servers admitted exactly what the worker sent.
    const servers = { role: 'server', app: 0 };
    expect(sum(json, 'ps_requests_total', { ...servers, kind: 'push' })).toBe(3);
    expect(sum(json, 'ps_requests_total', { ...servers, kind: 'pull' })).toBe(2);
    expect(sum(json, 'ps_requests_total', { ...servers, kind: 'pushPull' })).toBe(1);
    expect(sum(json, 'ps_push_requests_total', servers)).toBe(4);
    expect(sum(json, 'ps_pull_requests_total', servers)).toBe(3);
    // The histogram: cumulative buckets ending at +Inf with the count, and the count per kind.
    for (const [kind, n] of [
      ['push', 3],
      ['pull', 2],
      ['pushPull', 1],
    ] as const) {
      const at = { ...me, kind };
      const buckets = series(json, 'ps_request_duration_seconds', at).filter(
        (v) => nameOf(v) === 'ps_request_duration_seconds_bucket',
      );
      expect(buckets.length).toBeGreaterThan(10);
      const counts = buckets.map((b) => b.value);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(buckets.at(-1)!.labels.le).toBe('+Inf');
      expect(counts.at(-1)).toBe(n);
      const count = series(json, 'ps_request_duration_seconds', at).find(
        (v) => nameOf(v) === 'ps_request_duration_seconds_count',
      );
      const total = series(json, 'ps_request_duration_seconds', at).find(
        (v) => nameOf(v) === 'ps_request_duration_seconds_sum',
      );
      expect(count?.value).toBe(n);
      expect(total!.value).toBeGreaterThan(0);
      expect(total!.value).toBeLessThan(60);
    }
    // Servers time nothing: no histogram series of theirs.
    expect(series(json, 'ps_request_duration_seconds', { role: 'server' })).toEqual([]);
  });

  it('reports traffic, the keys and bytes stored, replication and the filters as the nodes count them', async () => {
    const c = await cluster();
    const w = c.worker.worker;
    for (const [i, k] of KEYS.entries()) await w.wait(w.push(kv(k, i + 1)));
    // Heartbeats go on in the background: a scrape reads between the counts before and after it.
    const nodes = [c.worker.node, ...c.servers.map((s) => s.node)];
    const traffic = () => [...nodes.map((x) => ({ ...x.stats })), { ...c.scheduler.stats }];
    const lo = traffic();
    const json = await c.metrics.getMetricsAsJSON();
    const hi = traffic();
    for (const [i, x] of [...nodes, { id: 'scheduler', role: 'scheduler' }].entries()) {
      const at = { node: x.id, role: x.role };
      for (const [name, field] of [
        ['ps_bytes_sent_total', 'bytesSent'],
        ['ps_bytes_received_total', 'bytesReceived'],
      ] as const) {
        expect(one(json, name, at)).toBeGreaterThanOrEqual(lo[i]![field]);
        expect(one(json, name, at)).toBeLessThanOrEqual(hi[i]![field]);
        expect(lo[i]![field]).toBeGreaterThan(0);
      }
      expect(one(json, 'ps_frames_rejected_total', at)).toBe(0);
    }
    let replicaBytes = 0;
    for (const s of c.servers) {
      const at = { node: s.node.id, role: 'server', app: 0 };
      // Replicas 1 on two servers: each holds every key, as master or as replica.
      expect(one(json, 'ps_stored_keys', at)).toBe(4);
      const table = s.server.table!;
      expect(one(json, 'ps_stored_bytes', at)).toBe(table.slabs.reduce((n, v) => n + v.byteLength, 0));
      expect(one(json, 'ps_stored_bytes', at)).toBeGreaterThanOrEqual(4 * 4 * 4);
      // Every push was acknowledged only once its replica held it: nothing is pending.
      expect(one(json, 'ps_replication_unacknowledged', at)).toBe(0);
      expect(one(json, 'ps_replication_oldest_unacknowledged_seconds', at)).toBe(0);
      expect(one(json, 'ps_replica_bytes_sent_total', at)).toBe(s.server.replicas.counters.replicaBytes);
      replicaBytes += one(json, 'ps_replica_bytes_sent_total', at);
    }
    // Four pushes of one key and four float32 values, each forwarded once (at least its key and
    // values); a fifth of the same shape adds exactly a quarter more (below).
    expect(replicaBytes).toBeGreaterThanOrEqual(4 * (8 + 16));
    const chains = [
      [c.worker.node, c.workerFilters[0]!],
      ...c.servers.map((s, i) => [s.node, c.serverFilters[i]![0]!] as const),
    ] as const;
    for (const [node, f] of chains) {
      const at = { node: node.id, role: node.role, filter: f.signature };
      expect(one(json, 'ps_filter_bytes_in_total', at)).toBe(f.stats.bytesIn);
      expect(one(json, 'ps_filter_bytes_out_total', at)).toBe(f.stats.bytesOut);
      expect(one(json, 'ps_filter_bytes_saved', at)).toBe(f.stats.bytesIn - f.stats.bytesOut);
    }
    // The worker's pushes went through quantize (16 bits): two bytes a value instead of four.
    expect(one(json, 'ps_filter_bytes_saved', { node: c.worker.node.id })).toBeGreaterThan(0);
    await w.wait(w.push(kv(KEYS[0]!, 9)));
    expect(sum(await c.metrics.getMetricsAsJSON(), 'ps_replica_bytes_sent_total', {})).toBe(
      (replicaBytes * 5) / 4,
    );
  });

  it('moves the counters with the next request (read at scrape time, never cached)', async () => {
    const c = await cluster();
    const w = c.worker.worker;
    const me = { node: c.worker.node.id, role: 'worker', app: 0 };
    await w.wait(w.push(kv(KEYS[0]!, 1)));
    const a = await c.metrics.getMetricsAsJSON();
    await w.wait(w.push(kv(KEYS[1]!, 1)));
    const b = await c.metrics.getMetricsAsJSON();
    expect(one(b, 'ps_push_requests_total', me) - one(a, 'ps_push_requests_total', me)).toBe(1);
    expect(one(b, 'ps_bytes_sent_total', { node: me.node })).toBeGreaterThan(
      one(a, 'ps_bytes_sent_total', { node: me.node }),
    );
  });

  it('gives the heartbeat ages: each node since it heard the scheduler, the scheduler per live node', async () => {
    const c = await cluster();
    const json = await c.metrics.getMetricsAsJSON();
    for (const x of [c.worker.node, ...c.servers.map((s) => s.node)]) {
      const age = one(json, 'ps_heartbeat_age_seconds', { node: x.id, role: x.role });
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(30);
    }
    const members = series(json, 'ps_member_heartbeat_age_seconds', { node: 'scheduler', role: 'scheduler' });
    expect(members.map((m) => `${m.labels.member_role} ${m.labels.member}`).sort()).toEqual(
      [`worker ${c.worker.node.id}`, ...c.servers.map((s) => `server ${s.node.id}`)].sort(),
    );
    for (const m of members) expect(m.value).toBeLessThan(30);
    // A node the registry no longer lists is gone from every family.
    const metrics = new NodeMetricsRegistry();
    const remove = metrics.add(workerSource(c.worker.node, c.worker.workers));
    expect(series(await metrics.getMetricsAsJSON(), 'ps_node_info')).toHaveLength(1);
    remove();
    expect(series(await metrics.getMetricsAsJSON(), 'ps_node_info')).toHaveLength(0);
  });
});
