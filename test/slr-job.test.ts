// The sparse logistic regression job end to end: the `pskv` CLI launches a scheduler, servers and
// workers as OS processes over TCP on 127.0.0.1; teardown leaves no process behind.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
afterEach(killAll);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const title = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
};

/** Waits for the launcher's `processes:` line and returns the role pids. */
async function rolePids(stderr: string[], ms = 60_000): Promise<Map<string, number>> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const line = stderr.find((l) => l.startsWith('processes: '));
    if (line) {
      return new Map(
        line
          .slice('processes: '.length)
          .split(', ')
          .map((part) => {
            const i = part.lastIndexOf(' ');
            return [part.slice(0, i), Number(part.slice(i + 1))] as [string, number];
          }),
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no processes line; stderr:\n${stderr.join('\n')}`);
}

async function waitUntil(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

describe('pskv slr', () => {
  it('trains on SpamAssassin with 2 servers and 2 workers over TCP to accuracy >= 0.95', async () => {
    const p = spawnNode(cli, {}, [
      'slr',
      '--dataset',
      'spam',
      '--servers',
      '2',
      '--workers',
      '2',
      '--transport',
      'tcp',
      '--json',
    ]);
    const pids = await rolePids(p.stderr);
    expect([...pids.keys()].sort()).toEqual([
      'ps-scheduler',
      'ps-server (1/2)',
      'ps-server (2/2)',
      'ps-worker (1/2)',
      'ps-worker (2/2)',
    ]);
    // Each role names itself: ps-scheduler, ps-server-<rank>, ps-worker-<rank>.
    await waitUntil(
      () => [...pids.values()].every((pid) => /^ps-(scheduler|server-\d|worker-\d)$/.test(title(pid) ?? '')),
      20_000,
    );
    expect([...pids.values()].map((pid) => title(pid)).sort()).toEqual([
      'ps-scheduler',
      'ps-server-0',
      'ps-server-1',
      'ps-worker-0',
      'ps-worker-1',
    ]);
    expect(await exitCode(p, 120_000)).toBe(0);
    const summary = JSON.parse(p.lines.at(-1)!) as Record<string, unknown>;
    for (const k of [
      'dataset',
      'rows_train',
      'rows_test',
      'features',
      'servers',
      'workers',
      'transport',
      'epochs',
      'seconds',
      'accuracy',
      'logloss',
      'auc',
      'bytes_sent',
      'bytes_received',
    ]) {
      expect(summary).toHaveProperty(k);
    }
    expect(summary.rows_train).toBe(4837);
    expect(summary.rows_test).toBe(1209);
    expect(summary.accuracy as number).toBeGreaterThanOrEqual(0.95);
    expect(summary.auc as number).toBeGreaterThanOrEqual(0.98);
    expect(summary.bytes_sent as number).toBeGreaterThan(0);
    for (const pid of pids.values()) expect(alive(pid)).toBe(false);
  });

  it('tears the whole cluster down on Ctrl-C (SIGINT), leaving no process behind', async () => {
    const p = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--epochs', '50']);
    const pids = await rolePids(p.stderr);
    await waitUntil(() => p.stderr.some((l) => l.startsWith('training:')), 60_000);
    process.kill(p.pid, 'SIGINT');
    expect(await exitCode(p, 15_000)).toBe(130);
    expect(p.stderr.join('\n')).toMatch(/interrupted by SIGINT/);
    for (const pid of pids.values()) expect(alive(pid)).toBe(false);
  });

  it('tears the cluster down when a worker crashes, and says which one', async () => {
    const p = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--epochs', '50']);
    const pids = await rolePids(p.stderr);
    await waitUntil(() => p.stderr.some((l) => l.startsWith('training:')), 60_000);
    process.kill(pids.get('ps-worker (2/2)')!, 'SIGKILL');
    expect(await exitCode(p, 20_000)).toBe(1);
    expect(p.stderr.join('\n')).toMatch(/ps-worker \(2\/2\) \(pid \d+\) exited with SIGKILL/);
    for (const pid of pids.values()) expect(alive(pid)).toBe(false);
  });

  it('leaves no role behind when the launcher itself is killed with SIGKILL', async () => {
    const p = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--epochs', '50']);
    const pids = await rolePids(p.stderr);
    await waitUntil(() => p.stderr.some((l) => l.startsWith('training:')), 60_000);
    process.kill(p.pid, 'SIGKILL');
    await exitCode(p, 10_000);
    // Each role sees its IPC channel close and exits.
    expect(await waitUntil(() => [...pids.values()].every((pid) => !alive(pid)), 15_000)).toBe(true);
  });

  it('runs with each consistency model and a straggler, and reports the idle fraction', async () => {
    const runs = [
      ['--consistency', 'sequential'],
      ['--consistency', 'bounded', '--tau', '3'],
      ['--consistency', 'eventual'],
    ];
    const idle: number[] = [];
    for (const extra of runs) {
      const p = spawnNode(cli, {}, [
        'slr',
        '--dataset',
        'spam',
        '--epochs',
        '2',
        '--straggler',
        '3',
        // Batches of 64 rows (the default is 256): 76 a worker in 2 epochs, room for the gap.
        '--batch-size',
        '64',
        '--json',
        ...extra,
      ]);
      expect(await exitCode(p, 120_000)).toBe(0);
      const s = JSON.parse(p.lines.at(-1)!) as Record<string, number | string | null>;
      expect(s.consistency).toBe(extra[1]);
      expect(s.tau).toBe(extra[1] === 'sequential' ? 0 : extra[1] === 'eventual' ? null : 3);
      expect(s.straggler).toBe(3);
      expect(s.accuracy as number).toBeGreaterThanOrEqual(0.95);
      expect(s.worker_idle_fraction as number).toBeGreaterThan(0);
      expect(s.worker_idle_fraction as number).toBeLessThan(1);
      idle.push(s.worker_idle_fraction as number);
      // The gap between the fastest and the slowest worker on the progress clock: τ + 1 at most,
      // reached under the straggler; unbounded with eventual.
      if (extra[1] === 'eventual') expect(s.max_staleness as number).toBeGreaterThan(4);
      else expect(s.max_staleness).toBe(extra[1] === 'sequential' ? 1 : 4);
    }
    // With a straggler, waiting for every worker each iteration idles the others most.
    expect(idle[0]!).toBeGreaterThan(idle[2]!);
  });

  it('runs in sync mode with a replica: the same quality, each iteration replicated once (fewer replica bytes)', async () => {
    const run = async (consistency: string) => {
      const p = spawnNode(cli, {}, [
        'slr',
        '--dataset',
        'spam',
        '--epochs',
        '2',
        '--workers',
        '3',
        '--replicas',
        '1',
        '--consistency',
        consistency,
        '--json',
      ]);
      expect(await exitCode(p, 120_000)).toBe(0);
      return JSON.parse(p.lines.at(-1)!) as Record<string, number | string | null>;
    };
    const sync = await run('sync');
    const sequential = await run('sequential');
    expect(sync.consistency).toBe('sync');
    expect(sync.tau).toBe(0);
    expect(sync.accuracy as number).toBeGreaterThanOrEqual(0.95);
    expect(sequential.replica_bytes as number).toBeGreaterThan(0);
    expect(sync.replica_bytes as number).toBeGreaterThan(0);
    // The sum of 3 workers' gradients of an iteration goes to the replica once, not 3 pushes: the
    // keys the workers' batches share are sent once (about 17% fewer bytes on this data set).
    expect(sync.replica_bytes as number).toBeLessThan(0.9 * (sequential.replica_bytes as number));
    // Every worker's pushes are counted, in the sums that hold them.
    expect(Object.keys(sync.push_requests_by_worker as unknown as object)).toHaveLength(3);
    expect(sync.replica_bytes as number).toBeLessThan(sync.bytes_sent_by_servers as number);
  });

  it('runs with a filter chain: fewer bytes, the same quality, bytes counted per filter', async () => {
    const run = async (extra: string[]) => {
      const p = spawnNode(cli, {}, ['slr', '--dataset', 'spam', '--json', ...extra]);
      expect(await exitCode(p, 120_000)).toBe(0);
      return JSON.parse(p.lines.at(-1)!) as {
        accuracy: number;
        bytes_sent: number;
        bytes_by_filter: Record<string, { bytes_in: number; bytes_out: number }>;
      };
    };
    // Without replicas: servers forward pushes to replicas unfiltered (server-to-server traffic).
    const plain = await run(['--replicas', '0']);
    const filtered = await run([
      '--replicas',
      '0',
      '--filters',
      'key-caching,significant:0.01,quantize:8,lz4',
    ]);
    expect(filtered.accuracy).toBeGreaterThanOrEqual(0.95);
    // The whole chain sends at least 4 times fewer bytes.
    expect(filtered.bytes_sent).toBeLessThan(plain.bytes_sent / 4);
    const chain = ['key-caching', 'significant:0.01', 'quantize:8', 'lz4'].map(
      (f) => filtered.bytes_by_filter[f]!,
    );
    // Each filter is given what the one before it produced.
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.bytes_in).toBe(chain[i - 1]!.bytes_out);
    expect(chain[3]!.bytes_out).toBeLessThan(chain[0]!.bytes_in / 4);
    const bad = spawnNode(cli, {}, ['slr', '--filters', 'gzip']);
    expect(await exitCode(bad, 20_000)).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/'gzip' is not a filter this version has/);
  });

  it('refuses bad options with exit code 2 and a message naming the option', async () => {
    const p = spawnNode(cli, {}, ['slr', '--workers', '0']);
    expect(await exitCode(p, 20_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/--workers must be an integer from 1 to 64/);
  });
});
