import { describe, expect, it } from 'vitest';
import { PsErrorCode } from '../errors.js';
import { clusterConfigFromEnv, resolveClusterEnv } from './resolve-cluster-env.js';

const refusal = (env: Record<string, string>) => {
  try {
    resolveClusterEnv(env, () => ({ eth0: [{ address: '10.1.2.3', family: 'IPv4', internal: false }] }));
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  return undefined;
};

describe('resolveClusterEnv: our PS_* variables', () => {
  it('passes them through as the ps dialect, and nothing set is the ps dialect too', () => {
    const env = { PS_ROLE: 'worker', PS_SCHEDULER: 'sched:9000', PS_NUM_SERVERS: '2', PS_NUM_WORKERS: '3' };
    expect(resolveClusterEnv(env)).toEqual({ dialect: 'ps', vars: env });
    expect(resolveClusterEnv({})).toEqual({ dialect: 'ps', vars: {} });
    expect(() => clusterConfigFromEnv({})).toThrow(/PS_ROLE must be scheduler, server or worker/);
  });
});

describe('resolveClusterEnv: ps-lite (DMLC_*)', () => {
  const dmlc = {
    DMLC_ROLE: 'server',
    DMLC_PS_ROOT_URI: '10.0.0.1',
    DMLC_PS_ROOT_PORT: '8000',
    DMLC_NUM_SERVER: '2',
    DMLC_NUM_WORKER: '4',
  };
  it('reads the role, the scheduler and the counts', () => {
    expect(resolveClusterEnv(dmlc)).toEqual({
      dialect: 'dmlc',
      vars: { PS_ROLE: 'server', PS_SCHEDULER: '10.0.0.1:8000', PS_NUM_SERVERS: '2', PS_NUM_WORKERS: '4' },
    });
    const cfg = clusterConfigFromEnv({ ...dmlc, DMLC_NODE_HOST: 'node-3' });
    expect(cfg).toMatchObject({
      dialect: 'dmlc',
      role: 'server',
      scheduler: { host: '10.0.0.1', port: 8000 },
      numServers: 2,
      numWorkers: 4,
      host: 'node-3',
      port: 0,
    });
  });
  it('takes the address of DMLC_INTERFACE, and refuses an interface that is not there', () => {
    const ifs = () => ({ eth0: [{ address: '10.1.2.3', family: 'IPv4', internal: false }] });
    expect(resolveClusterEnv({ ...dmlc, DMLC_INTERFACE: 'eth0' }, ifs).vars.PS_HOST).toBe('10.1.2.3');
    expect(refusal({ ...dmlc, DMLC_INTERFACE: 'ib0' })).toMatchObject({
      code: PsErrorCode.CLUSTER_ENV,
      message: expect.stringMatching(/DMLC_INTERFACE=ib0 .*set DMLC_NODE_HOST/),
    });
  });
  it('refuses a missing variable by name, and PS_* that disagree with DMLC_*', () => {
    const { DMLC_NUM_WORKER: _, ...noWorkers } = dmlc;
    expect(refusal(noWorkers)).toMatchObject({
      code: PsErrorCode.CLUSTER_ENV,
      message: expect.stringMatching(/PS_ERR_CLUSTER_ENV: DMLC_NUM_WORKER is not set/),
    });
    expect(refusal({ ...dmlc, DMLC_ROLE: 'boss' })?.message).toMatch(/DMLC_ROLE must be/);
    expect(refusal({ ...dmlc, PS_NUM_SERVERS: '3' })).toMatchObject({
      code: PsErrorCode.CLUSTER_ENV,
      message: expect.stringMatching(/PS_NUM_SERVERS=3 and DMLC_NUM_SERVER=2 disagree: unset one/),
    });
    // Agreeing variables are fine, and an explicit PS_ROLE makes it our dialect.
    expect(resolveClusterEnv({ ...dmlc, PS_ROLE: 'server', PS_PORT: '7000' })).toMatchObject({
      dialect: 'ps',
      vars: { PS_ROLE: 'server', PS_SCHEDULER: '10.0.0.1:8000', PS_PORT: '7000' },
    });
  });
});

describe('resolveClusterEnv: a Kubernetes JobSet', () => {
  const pod = (rjob: string, index: string) => ({
    JOBSET_NAME: 'slr',
    REPLICATED_JOB_NAME: rjob,
    JOB_INDEX: '0',
    JOB_COMPLETION_INDEX: index,
    PS_NUM_SERVERS: '2',
    PS_NUM_WORKERS: '3',
  });
  it('derives the role from the replicated job and the addresses from the pod hostnames', () => {
    expect(resolveClusterEnv(pod('scheduler', '0'))).toEqual({
      dialect: 'jobset',
      vars: {
        PS_ROLE: 'scheduler',
        PS_SCHEDULER: 'slr-scheduler-0-0.slr:9700',
        PS_NUM_SERVERS: '2',
        PS_NUM_WORKERS: '3',
        PS_HOST: 'slr-scheduler-0-0.slr',
        PS_PORT: '9700',
      },
    });
    const w = resolveClusterEnv({ ...pod('workers', '2'), PS_SUBDOMAIN: 'net', PS_SCHEDULER_PORT: '9000' });
    expect(w.vars).toEqual({
      PS_ROLE: 'worker',
      PS_SCHEDULER: 'slr-scheduler-0-0.net:9000',
      PS_NUM_SERVERS: '2',
      PS_NUM_WORKERS: '3',
      PS_HOST: 'slr-workers-0-2.net',
    });
    expect(clusterConfigFromEnv(pod('server', '1'))).toMatchObject({
      dialect: 'jobset',
      role: 'server',
      scheduler: { host: 'slr-scheduler-0-0.slr', port: 9700 },
      host: 'slr-server-0-1.slr',
      port: 0,
    });
  });
  it('lets explicit PS_* win over what it derives', () => {
    expect(resolveClusterEnv({ ...pod('server', '1'), PS_HOST: '10.9.9.9' }).vars.PS_HOST).toBe('10.9.9.9');
  });
  it('refuses a pod it cannot place, naming the variable', () => {
    const { REPLICATED_JOB_NAME: _, ...noRjob } = pod('server', '0');
    expect(refusal(noRjob)).toMatchObject({
      code: PsErrorCode.CLUSTER_ENV,
      message: expect.stringMatching(/PS_ERR_CLUSTER_ENV: REPLICATED_JOB_NAME is not set/),
    });
    expect(refusal(pod('trainer', '0'))?.message).toMatch(
      /REPLICATED_JOB_NAME must be scheduler, server or worker.*'trainer'/,
    );
    expect(refusal(pod('scheduler', '1'))?.message).toMatch(/scheduler's replicated job must be one pod/);
    const { PS_NUM_WORKERS: __, ...noCount } = pod('server', '0');
    expect(refusal(noCount)?.message).toMatch(/PS_ERR_CLUSTER_ENV: PS_NUM_WORKERS is not set/);
    expect(refusal({ ...pod('server', '0'), JOB_COMPLETION_INDEX: 'x' })?.message).toMatch(
      /JOB_COMPLETION_INDEX must be a non-negative integer/,
    );
    expect(refusal({ ...pod('server', '0'), PS_SCHEDULER_PORT: '70000' })?.message).toMatch(
      /PS_SCHEDULER_PORT must be a port/,
    );
  });
});

describe('resolveClusterEnv: a plain Indexed Job', () => {
  const pod = (index: string) => ({
    JOB_NAME: 'slr',
    JOB_COMPLETION_INDEX: index,
    PS_SUBDOMAIN: 'slr-net',
    PS_NUM_SERVERS: '2',
    PS_NUM_WORKERS: '2',
  });
  it('lays the ranks out as scheduler, servers, workers', () => {
    const roles = ['0', '1', '2', '3', '4'].map((i) => resolveClusterEnv(pod(i)).vars.PS_ROLE);
    expect(roles).toEqual(['scheduler', 'server', 'server', 'worker', 'worker']);
    expect(resolveClusterEnv(pod('3'))).toEqual({
      dialect: 'indexed-job',
      vars: {
        PS_ROLE: 'worker',
        PS_SCHEDULER: 'slr-0.slr-net:9700',
        PS_NUM_SERVERS: '2',
        PS_NUM_WORKERS: '2',
        PS_HOST: 'slr-3.slr-net',
      },
    });
  });
  it('refuses an index past the job, and a missing JOB_NAME or PS_SUBDOMAIN', () => {
    expect(refusal(pod('5'))).toMatchObject({
      code: PsErrorCode.CLUSTER_ENV,
      message: expect.stringMatching(
        /JOB_COMPLETION_INDEX=5 is past the end of the job: 1 scheduler \+ 2 servers \+ 2 workers = 5/,
      ),
    });
    const { JOB_NAME: _, ...noName } = pod('1');
    expect(refusal(noName)?.message).toMatch(/PS_ERR_CLUSTER_ENV: JOB_NAME is not set.*JOBSET_NAME/);
    const { PS_SUBDOMAIN: __, ...noSub } = pod('1');
    expect(refusal(noSub)?.message).toMatch(/PS_ERR_CLUSTER_ENV: PS_SUBDOMAIN is not set/);
  });
});

describe('resolveClusterEnv: Slurm', () => {
  const task = (rank: string, extra: Record<string, string> = {}) => ({
    SLURM_PROCID: rank,
    SLURM_NTASKS: '6',
    SLURM_JOB_NODELIST: 'cn[07-09]',
    SLURMD_NODENAME: 'cn08',
    PS_NUM_SERVERS: '2',
    ...extra,
  });
  it('places rank 0 on the first host, then servers, then workers (the rest of the tasks)', () => {
    expect(resolveClusterEnv(task('0', { SLURMD_NODENAME: 'cn07' }))).toEqual({
      dialect: 'slurm',
      vars: {
        PS_ROLE: 'scheduler',
        PS_SCHEDULER: 'cn07:9700',
        PS_NUM_SERVERS: '2',
        PS_NUM_WORKERS: '3',
        PS_HOST: 'cn07',
        PS_PORT: '9700',
      },
    });
    expect(resolveClusterEnv(task('2')).vars).toMatchObject({ PS_ROLE: 'server', PS_HOST: 'cn08' });
    expect(resolveClusterEnv(task('5')).vars).toMatchObject({ PS_ROLE: 'worker', PS_NUM_WORKERS: '3' });
    // The step's node list, when there, is where the tasks run.
    expect(resolveClusterEnv(task('3', { SLURM_STEP_NODELIST: 'cn09' })).vars.PS_SCHEDULER).toBe('cn09:9700');
  });
  it('refuses counts that do not add up to SLURM_NTASKS, and a missing node name', () => {
    expect(refusal(task('1', { PS_NUM_WORKERS: '2' }))).toMatchObject({
      code: PsErrorCode.CLUSTER_ENV,
      message: expect.stringMatching(/SLURM_NTASKS=6 does not hold 1 scheduler \+ 2 servers/),
    });
    expect(refusal(task('1', { PS_NUM_SERVERS: '5' }))?.message).toMatch(/at least 1 worker/);
    const { SLURMD_NODENAME: _, ...noNode } = task('1');
    expect(refusal(noNode)?.message).toMatch(/PS_ERR_CLUSTER_ENV: SLURMD_NODENAME is not set/);
    expect(refusal(task('1', { SLURM_JOB_NODELIST: 'cn[1-' }))?.message).toMatch(
      /SLURM_JOB_NODELIST is not a Slurm host list/,
    );
  });
  it('gives way to a dialect before it (a ps-lite job launched inside an allocation)', () => {
    const env = {
      ...task('0'),
      DMLC_ROLE: 'worker',
      DMLC_PS_ROOT_URI: 'cn07',
      DMLC_PS_ROOT_PORT: '8000',
      DMLC_NUM_SERVER: '1',
      DMLC_NUM_WORKER: '1',
    };
    const { PS_NUM_SERVERS: _, ...withoutOurs } = env;
    expect(resolveClusterEnv(withoutOurs)).toMatchObject({ dialect: 'dmlc', vars: { PS_ROLE: 'worker' } });
  });
});
