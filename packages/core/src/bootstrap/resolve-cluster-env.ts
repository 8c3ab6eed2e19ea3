import { configFromEnv, type EnvConfig } from '../membership/config.js';
import { type ClusterVars, clusterEnvError, type EnvVars, envValue } from './cluster-vars.js';
import { dmlcClusterVars, type InterfaceAddresses } from './dmlc-vars.js';
import { indexedJobClusterVars, jobSetClusterVars } from './kubernetes-vars.js';
import { slurmClusterVars } from './slurm-vars.js';

/** Where a process's cluster settings came from, by {@link resolveClusterEnv}. */
export type ClusterDialect = 'ps' | 'dmlc' | 'jobset' | 'indexed-job' | 'slurm';

/** The dialects, in the order {@link resolveClusterEnv} tries them: the first one present wins. */
export const CLUSTER_DIALECTS: readonly ClusterDialect[] = ['ps', 'dmlc', 'jobset', 'indexed-job', 'slurm'];

/** What {@link resolveClusterEnv} found. */
export interface ResolvedClusterEnv {
  /** The dialect that gave the role. */
  dialect: ClusterDialect;
  /** The `PS_*` variables of the cluster: the dialect's, under any `PS_*` set explicitly. */
  vars: ClusterVars;
}

/** The `PS_*` variables that a dialect derives, and that may also be set explicitly. */
const DERIVED = [
  'PS_ROLE',
  'PS_SCHEDULER',
  'PS_NUM_SERVERS',
  'PS_NUM_WORKERS',
  'PS_HOST',
  'PS_PORT',
] as const;

/** The ps-lite variable each `PS_*` one may be given as (a conflict between the two is refused). */
const DMLC_NAMES: Readonly<Partial<Record<(typeof DERIVED)[number], string>>> = {
  PS_ROLE: 'DMLC_ROLE',
  PS_SCHEDULER: 'DMLC_PS_ROOT_URI:DMLC_PS_ROOT_PORT',
  PS_NUM_SERVERS: 'DMLC_NUM_SERVER',
  PS_NUM_WORKERS: 'DMLC_NUM_WORKER',
  PS_HOST: 'DMLC_NODE_HOST',
};

/**
 * Reads which role this process plays in which cluster from whatever the orchestrator set, as
 * `PS_*` variables. The dialects, tried in this order (the first whose marker is set gives the
 * role; {@link CLUSTER_DIALECTS}):
 * 1. `ps`: `PS_ROLE` set: our own variables (`PS_SCHEDULER`, `PS_NUM_SERVERS`, `PS_NUM_WORKERS`,
 *    `PS_HOST`, `PS_PORT`; see `configFromEnv`).
 * 2. `dmlc`: `DMLC_ROLE` set: ps-lite's (`DMLC_PS_ROOT_URI`, `DMLC_PS_ROOT_PORT`, `DMLC_NUM_SERVER`,
 *    `DMLC_NUM_WORKER`, `DMLC_NODE_HOST` or `DMLC_INTERFACE`; see `dmlcClusterVars`).
 * 3. `jobset`: `JOBSET_NAME` set: a Kubernetes JobSet's pod (`REPLICATED_JOB_NAME`, `JOB_INDEX`,
 *    `JOB_COMPLETION_INDEX`, `PS_SUBDOMAIN`, `PS_SCHEDULER_PORT`; see `jobSetClusterVars`).
 * 4. `indexed-job`: `JOB_COMPLETION_INDEX` set: a plain Indexed Job's pod (`JOB_NAME`,
 *    `PS_SUBDOMAIN`, `PS_SCHEDULER_PORT`; see `indexedJobClusterVars`).
 * 5. `slurm`: `SLURM_PROCID` set: a Slurm task (`SLURM_NTASKS`, `SLURM_STEP_NODELIST` or
 *    `SLURM_JOB_NODELIST`, `SLURMD_NODENAME`, `PS_SCHEDULER_PORT`; see `slurmClusterVars`).
 *
 * A `PS_*` variable set explicitly always wins over the one a dialect derives (so a pod may set
 * `PS_HOST` or `PS_PORT` itself), but where ps-lite's variable and ours are both set and disagree,
 * the process is refused rather than guess. Nothing set at all is the `ps` dialect (whose
 * `configFromEnv` then asks for `PS_ROLE`).
 * @param env the environment (default `process.env`).
 * @param interfaces this machine's interfaces, for `DMLC_INTERFACE` (default `os.networkInterfaces`).
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming the variable to set or unset: a dialect's variables
 *   incomplete or out of range, or `PS_*` and `DMLC_*` in conflict.
 */
export function resolveClusterEnv(
  env: EnvVars = process.env,
  interfaces?: InterfaceAddresses,
): ResolvedClusterEnv {
  const explicit: ClusterVars = {};
  for (const name of DERIVED) {
    const v = envValue(env, name);
    if (v !== undefined) explicit[name] = v;
  }
  const dmlc = envValue(env, 'DMLC_ROLE') !== undefined ? dmlcClusterVars(env, interfaces) : undefined;
  if (dmlc) {
    for (const name of DERIVED) {
      const ours = explicit[name];
      const theirs = dmlc[name];
      if (ours !== undefined && theirs !== undefined && ours !== theirs) {
        throw clusterEnvError(
          `${name}=${ours} and ${DMLC_NAMES[name]}=${theirs} disagree: unset one of them (the PS_* variables and ps-lite's DMLC_* ones describe the same cluster)`,
        );
      }
    }
  }
  if (explicit.PS_ROLE !== undefined) return { dialect: 'ps', vars: { ...dmlc, ...explicit } };
  if (dmlc) return { dialect: 'dmlc', vars: { ...dmlc, ...explicit } };
  const jobSet = jobSetClusterVars(env);
  if (jobSet) return { dialect: 'jobset', vars: { ...jobSet, ...explicit } };
  const indexed = indexedJobClusterVars(env);
  if (indexed) return { dialect: 'indexed-job', vars: { ...indexed, ...explicit } };
  const slurm = slurmClusterVars(env);
  if (slurm) return { dialect: 'slurm', vars: { ...slurm, ...explicit } };
  return { dialect: 'ps', vars: explicit };
}

/**
 * A process's cluster settings from its environment in any dialect ({@link resolveClusterEnv}),
 * parsed and checked as `configFromEnv` does (its other `PS_*` variables: `PS_SECRET`,
 * `PS_REJOIN`, `PS_RECOVER`, `PS_RUN`, are read as they are). `pskv start` uses it.
 * @throws PsError `PS_ERR_CLUSTER_ENV` (see {@link resolveClusterEnv}) or `PS_ERR_CONFIG` (a
 *   `PS_*` value malformed, see `configFromEnv`).
 */
export function clusterConfigFromEnv(
  env: EnvVars = process.env,
  interfaces?: InterfaceAddresses,
): EnvConfig & { dialect: ClusterDialect } {
  const { dialect, vars } = resolveClusterEnv(env, interfaces);
  return { ...configFromEnv({ ...env, ...vars }), dialect };
}
