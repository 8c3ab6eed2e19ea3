// Many hosts, for real: the SLR job (SpamAssassin, one epoch) across four network namespaces,
// each with an address of its own and a host name that only the namespaces' hosts files know
// (netns-hosts.ts: what a headless Service's DNS gives pods). Each role is `pskv start`, told
// nothing but what a JobSet's pod is told (JOBSET_NAME, REPLICATED_JOB_NAME, JOB_INDEX,
// JOB_COMPLETION_INDEX, the counts): it derives its role, the scheduler's name
// (slr-scheduler-0-0.slr) and its own name from them (resolveClusterEnv), binds 0.0.0.0,
// announces its name, and every peer resolves the names it dials. The job completes: every
// process exits 0 (the scheduler too, by itself) and the model reaches its accuracy.
// Root only (`npm run test:faults`); where `ip netns` is refused it fails with the reason.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from '../helpers/processes.js';
import { NetnsLab, netnsProblem } from './netns.js';
import { writeHostsFiles } from './netns-hosts.js';

const cli = fileURLToPath(new URL('../../packages/apps/dist/cli.js', import.meta.url));

// Host i of the lab runs pod i: the JobSet `slr`'s replicated job and completion index.
const PODS = [
  { rjob: 'scheduler', index: 0 },
  { rjob: 'server', index: 0 },
  { rjob: 'worker', index: 0 },
  { rjob: 'worker', index: 1 },
] as const;
const hostname = (p: (typeof PODS)[number]) => `slr-${p.rjob}-0-${p.index}`;

let lab: NetnsLab | undefined;
let removeHosts: (() => void) | undefined;

beforeAll(() => {
  const problem = netnsProblem();
  expect(problem, problem).toBeUndefined();
  lab = new NetnsLab(PODS.length);
  // The pod's FQDN under the subdomain, and its short name, as a cluster's DNS answers them;
  // host i is also rank i of the Indexed Job `ix` under the Service `ix-net`.
  removeHosts = writeHostsFiles(
    lab,
    PODS.map((p, i) => [`${hostname(p)}.slr`, hostname(p), `ix-${i}.ix-net`]),
  );
});
afterAll(async () => {
  await killAll();
  removeHosts?.();
  lab?.destroy();
  expect(lab?.remaining() ?? [], 'namespaces left behind').toEqual([]);
});

describe('a JobSet-shaped job across network namespaces, by host name', () => {
  it('trains SLR on SpamAssassin with each role started through the Kubernetes dialect of the environment', async () => {
    const hosts = lab!.hosts;
    const job = ['start', '--dataset', 'spam', '--epochs', '1'];
    const procs = PODS.map((p, i) =>
      spawnNode(
        cli,
        {
          JOBSET_NAME: 'slr',
          REPLICATED_JOB_NAME: p.rjob,
          JOB_INDEX: '0',
          JOB_COMPLETION_INDEX: String(p.index),
          PS_NUM_SERVERS: '1',
          PS_NUM_WORKERS: '2',
        },
        job,
        { prefix: hosts[i]!.prefix },
      ),
    );
    const codes = await Promise.all(procs.map((p) => exitCode(p, 150_000)));
    const logs = procs.map((p, i) => `${hostname(PODS[i]!)}:\n${p.stderr.join('\n')}`).join('\n---\n');
    expect(codes, logs).toEqual([0, 0, 0, 0]);
    const events = procs.flatMap((p) => p.lines).map((l) => JSON.parse(l) as Record<string, unknown>);
    const evaluation = events.find((e) => e.type === 'evaluation') as
      | { evaluation: { accuracy: number } }
      | undefined;
    expect(evaluation?.evaluation.accuracy, logs).toBeGreaterThanOrEqual(0.9);
    // Both workers trained (each reported its data, from its own namespace).
    expect(
      events
        .filter((e) => e.type === 'data')
        .map((e) => e.rank)
        .sort(),
    ).toEqual([0, 1]);
    process.stdout.write(`k8s-netns: accuracy ${evaluation?.evaluation.accuracy}\n`);
  }, 180_000);
});

describe('an Indexed Job across network namespaces, by host name', () => {
  it('trains SLR with the ranks read from JOB_COMPLETION_INDEX, the workers started before the scheduler', async () => {
    const hosts = lab!.hosts;
    const job = ['start', '--dataset', 'spam', '--epochs', '1'];
    // All at once, as a Job's pods start, the scheduler (rank 0) last: the others wait for it.
    const order = [3, 2, 1, 0];
    const procs = order.map((rank) =>
      spawnNode(
        cli,
        {
          JOB_NAME: 'ix',
          JOB_COMPLETION_INDEX: String(rank),
          PS_SUBDOMAIN: 'ix-net',
          PS_NUM_SERVERS: '1',
          PS_NUM_WORKERS: '2',
        },
        job,
        { prefix: hosts[rank]!.prefix },
      ),
    );
    const codes = await Promise.all(procs.map((p) => exitCode(p, 150_000)));
    const logs = procs.map((p, i) => `rank ${order[i]}:\n${p.stderr.join('\n')}`).join('\n---\n');
    expect(codes, logs).toEqual([0, 0, 0, 0]);
    const events = procs.flatMap((p) => p.lines).map((l) => JSON.parse(l) as Record<string, unknown>);
    const evaluation = events.find((e) => e.type === 'evaluation') as
      | { evaluation: { accuracy: number } }
      | undefined;
    expect(evaluation?.evaluation.accuracy, logs).toBeGreaterThanOrEqual(0.9);
    process.stdout.write(`k8s-netns (indexed job): accuracy ${evaluation?.evaluation.accuracy}\n`);
  }, 180_000);
});
