// `pskv start` reads its cluster from an orchestrator's dialect of the environment
// (resolveClusterEnv): here ps-lite's DMLC_* variables, with host names (`localhost`) rather than
// IPs, over real TCP on 127.0.0.1. The scheduler exits by itself when the job ends (status 0);
// an environment it cannot read is refused at once (status 2) naming the variable to set.
// Kubernetes' dialect across hosts runs in test/faults/k8s-netns.test.ts (it needs root).
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));

afterEach(killAll);

describe('pskv start: the cluster from the environment', () => {
  it("runs the SLR job from ps-lite's DMLC_* variables with host names, and every role exits 0", async () => {
    const job = ['start', '--dataset', 'spam', '--epochs', '1'];
    const base = {
      DMLC_PS_ROOT_URI: 'localhost',
      DMLC_NUM_SERVER: '1',
      DMLC_NUM_WORKER: '2',
      DMLC_NODE_HOST: 'localhost',
    };
    const scheduler = spawnNode(cli, { ...base, DMLC_ROLE: 'scheduler', DMLC_PS_ROOT_PORT: '0' }, job);
    const { port } = await scheduler.waitFor<{ type: string; port: number }>(
      (o) => o.type === 'listening',
      60_000,
    );
    const env = { ...base, DMLC_PS_ROOT_PORT: String(port) };
    const server = spawnNode(cli, { ...env, DMLC_ROLE: 'server' }, job);
    const workers = [0, 1].map(() => spawnNode(cli, { ...env, DMLC_ROLE: 'worker' }, job));
    const codes = await Promise.all([scheduler, server, ...workers].map((p) => exitCode(p, 120_000)));
    expect(codes, [scheduler, server, ...workers].map((p) => p.stderr.join('\n')).join('\n---\n')).toEqual([
      0, 0, 0, 0,
    ]);
    const evaluation = workers
      .flatMap((w) => w.lines)
      .map((l) => JSON.parse(l) as { type: string; evaluation?: { accuracy: number } })
      .find((e) => e.type === 'evaluation');
    expect(evaluation?.evaluation?.accuracy).toBeGreaterThanOrEqual(0.9);
  }, 180_000);

  it('exits 75 (restart me) when a pod cannot reach its scheduler within PS_START_TIMEOUT_MS', async () => {
    // A port nothing listens on.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as { port: number };
    await new Promise((r) => probe.close(r));
    const p = spawnNode(
      cli,
      {
        JOB_NAME: 'ix',
        JOB_COMPLETION_INDEX: '2',
        PS_SUBDOMAIN: 'ix-net',
        PS_NUM_SERVERS: '1',
        PS_NUM_WORKERS: '1',
        // Explicit PS_* win over the derived names (which do not resolve here).
        PS_SCHEDULER: `127.0.0.1:${port}`,
        PS_HOST: '127.0.0.1',
        PS_START_TIMEOUT_MS: '1500',
      },
      ['start', '--dataset', 'spam'],
    );
    expect(await exitCode(p, 60_000)).toBe(75);
    expect(p.stderr.join('\n')).toMatch(
      new RegExp(
        `ps-worker: PS_ERR_PEER_UNREACHABLE: the scheduler at 127\\.0\\.0\\.1:${port} did not answer within 1500 ms`,
      ),
    );
  });

  it('refuses a JobSet pod without REPLICATED_JOB_NAME with status 2, naming the variable', async () => {
    const p = spawnNode(
      cli,
      { JOBSET_NAME: 'slr', JOB_COMPLETION_INDEX: '0', PS_NUM_SERVERS: '1', PS_NUM_WORKERS: '1' },
      ['start'],
    );
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/PS_ERR_CLUSTER_ENV: REPLICATED_JOB_NAME is not set/);
  });

  it('refuses PS_* and DMLC_* that disagree with status 2', async () => {
    const p = spawnNode(
      cli,
      {
        PS_ROLE: 'worker',
        DMLC_ROLE: 'server',
        DMLC_PS_ROOT_URI: 'localhost',
        DMLC_PS_ROOT_PORT: '9',
        DMLC_NUM_SERVER: '1',
        DMLC_NUM_WORKER: '1',
      },
      ['start'],
    );
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/PS_ROLE=worker and DMLC_ROLE=server disagree/);
  });
});
