// `--metrics-port`: `pskv slr` serves every node's Prometheus metrics while the job runs (its role
// processes over TCP on 127.0.0.1, asked over their IPC channels at each scrape), and `pskv start`
// serves its own role's.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';
import { parsePrometheusText, type Scrape, select } from './helpers/prometheus-text.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
afterEach(killAll);

/** Waits (bounded) for the `metrics at URL` line on stderr and returns the URL. */
async function metricsUrl(p: Proc, cmd: string, ms = 60_000): Promise<string> {
  const re = new RegExp(`^pskv ${cmd}: metrics at (http://127\\.0\\.0\\.1:(\\d+)/metrics)$`);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const l of p.stderr) {
      const m = re.exec(l);
      if (m && Number(m[2]) > 0) return m[1]!;
    }
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no metrics address on stderr:\n${p.stderr.join('\n')}`);
}

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

/** Scrapes until `done` holds (at most `tries` scrapes within `ms`); returns the last scrape. */
async function scrapeUntil(
  url: string,
  done: (s: Scrape) => boolean,
  tries = 600,
  ms = 90_000,
): Promise<Scrape> {
  const deadline = Date.now() + ms;
  let last: Scrape | undefined;
  for (let i = 0; i < tries && Date.now() < deadline; i++) {
    last = await scrape(url);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `the metrics never showed what the test waits for; last scrape:\n${JSON.stringify(last?.samples.slice(0, 40))}`,
  );
}

const total = (s: Scrape, name: string, match: Record<string, string>) =>
  select(s, name, match).reduce((n, x) => n + x.value, 0);

describe('pskv slr --metrics-port', () => {
  it("serves every node of the job, with its role, while it runs; the servers' pushes agree with the summary", async () => {
    const p = spawnNode(cli, {}, [
      'slr',
      '--dataset',
      'spam',
      '--epochs',
      '1',
      '--servers',
      '2',
      '--workers',
      '2',
      '--replicas',
      '1',
      '--transport',
      'tcp',
      '--metrics-port',
      '0',
      '--json',
    ]);
    const url = await metricsUrl(p, 'slr');
    // Every node listed, and training under way (the workers' requests timed, the servers' counted).
    const during = await scrapeUntil(
      url,
      (s) =>
        select(s, 'ps_node_info').length === 5 &&
        total(s, 'ps_push_requests_total', { role: 'server' }) > 0 &&
        total(s, 'ps_replica_bytes_sent_total', { role: 'server' }) > 0 &&
        total(s, 'ps_request_duration_seconds_count', { role: 'worker', kind: 'push' }) > 0,
    );
    const info = select(during, 'ps_node_info');
    expect(info.map((s) => s.labels.role).sort()).toEqual([
      'scheduler',
      'server',
      'server',
      'worker',
      'worker',
    ]);
    expect(new Set(info.map((s) => s.labels.node)).size).toBe(5);
    expect(
      info
        .filter((s) => s.labels.role !== 'scheduler')
        .map((s) => s.labels.rank)
        .sort(),
    ).toEqual(['0', '0', '1', '1']);
    for (const [name, type] of [
      ['ps_push_requests_total', 'counter'],
      ['ps_pull_requests_total', 'counter'],
      ['ps_bytes_sent_total', 'counter'],
      ['ps_bytes_received_total', 'counter'],
      ['ps_request_duration_seconds', 'histogram'],
      ['ps_stored_keys', 'gauge'],
      ['ps_stored_bytes', 'gauge'],
      ['ps_replication_unacknowledged', 'gauge'],
      ['ps_heartbeat_age_seconds', 'gauge'],
    ] as const)
      expect(during.types.get(name), name).toBe(type);
    // Each node's traffic, under its own labels.
    for (const n of info) {
      const at = { node: n.labels.node!, role: n.labels.role! };
      expect(select(during, 'ps_bytes_sent_total', at)).toHaveLength(1);
      expect(select(during, 'ps_bytes_sent_total', at)[0]!.value).toBeGreaterThan(0);
    }
    // The histogram of each worker: cumulative buckets, +Inf equal to the count.
    const workers = info.filter((s) => s.labels.role === 'worker').map((s) => s.labels.node!);
    for (const node of workers) {
      const at = { node, role: 'worker', app: '0', kind: 'push' };
      const buckets = select(during, 'ps_request_duration_seconds_bucket', at);
      expect(buckets.length).toBeGreaterThan(10);
      const counts = buckets.map((b) => b.value);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(buckets.at(-1)!.labels.le).toBe('+Inf');
      expect(counts.at(-1)).toBe(select(during, 'ps_request_duration_seconds_count', at)[0]!.value);
    }
    // The scheduler sees every other node's heartbeats.
    expect(select(during, 'ps_member_heartbeat_age_seconds', { role: 'scheduler' })).toHaveLength(4);
    // The servers hold keys (each range twice: --replicas 1).
    expect(total(during, 'ps_stored_keys', { role: 'server' })).toBeGreaterThan(0);
    const serverPushes = total(during, 'ps_push_requests_total', { role: 'server' });

    expect(await exitCode(p, 120_000)).toBe(0);
    const summary = JSON.parse(p.lines.at(-1)!) as { push_requests_by_worker: Record<string, number> };
    // The summary counts what the servers admitted too, per worker, at the end of the job: the
    // same workers, and at least what the servers had counted while it ran.
    expect(Object.keys(summary.push_requests_by_worker).sort()).toEqual([...workers].sort());
    const final = Object.values(summary.push_requests_by_worker).reduce((a, b) => a + b, 0);
    expect(serverPushes).toBeLessThanOrEqual(final);
    // The endpoint went with the job.
    await expect(fetch(url)).rejects.toThrow();
  }, 180_000);

  it('refuses a port that is not one (exit 2, before anything starts)', async () => {
    const p = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--metrics-port', '70000']);
    expect(await exitCode(p)).toBe(2);
    expect(p.stderr.join('\n')).toContain(
      "option '--metrics-port <port>' argument '70000' is invalid. not a port (0 to 65535)",
    );
  });
});

describe('pskv start --metrics-port', () => {
  it("serves its own role's node only", async () => {
    const p = spawnNode(
      cli,
      { PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0', PS_NUM_SERVERS: '1', PS_NUM_WORKERS: '1' },
      ['start', '--metrics-port', '0'],
    );
    const url = await metricsUrl(p, 'start');
    const s = await scrapeUntil(url, (x) => select(x, 'ps_node_info').length > 0);
    expect(select(s, 'ps_node_info').map((x) => x.labels)).toEqual([
      { node: 'scheduler', role: 'scheduler', rank: '-1' },
    ]);
    expect(select(s, 'ps_bytes_sent_total', { node: 'scheduler', role: 'scheduler' })).toHaveLength(1);
    // Nobody registered yet: the scheduler lists no member.
    expect(select(s, 'ps_member_heartbeat_age_seconds')).toEqual([]);
  });

  it('stops with PS_ERR_CONFIG (exit 2) when the port is taken, before the role starts', async () => {
    const taken: Server = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const port = (taken.address() as AddressInfo).port;
      const p = spawnNode(
        cli,
        { PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0', PS_NUM_SERVERS: '1', PS_NUM_WORKERS: '1' },
        ['start', '--metrics-port', String(port)],
      );
      expect(await exitCode(p)).toBe(2);
      expect(p.stderr[0]).toBe(
        `pskv: error: PS_ERR_CONFIG: cannot serve metrics at 127.0.0.1:${port} (EADDRINUSE): pick another --metrics-port, or 0 for any free port`,
      );
    } finally {
      taken.close();
    }
  });
});
