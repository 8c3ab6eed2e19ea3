import {
  type ClusterVars,
  clusterEnvError,
  countVar,
  type EnvVars,
  envValue,
  indexVar,
  rankClusterVars,
  requireVar,
  roleOfRank,
} from './cluster-vars.js';
import { expandHostlist } from './expand-hostlist.js';

/**
 * A Slurm task (`srun` in an `sbatch` allocation) as `PS_*` variables: its rank `SLURM_PROCID` is
 * the role (0 the scheduler, then `PS_NUM_SERVERS` servers, then the workers); `SLURM_NTASKS` is
 * the job's size, so `PS_NUM_WORKERS` defaults to `SLURM_NTASKS - 1 - PS_NUM_SERVERS`. The
 * scheduler runs on the first host of the step's node list (`SLURM_STEP_NODELIST`, else
 * `SLURM_JOB_NODELIST`, expanded by {@link expandHostlist}; rank 0 is there under Slurm's default
 * block distribution) at `PS_SCHEDULER_PORT` (default 9700); a task announces its node's name,
 * `SLURMD_NODENAME`. Undefined when `SLURM_PROCID` is unset.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming the variable that is missing or wrong, or when the
 *   servers and workers do not add up to `SLURM_NTASKS`.
 */
export function slurmClusterVars(env: EnvVars): ClusterVars | undefined {
  if (envValue(env, 'SLURM_PROCID') === undefined) return undefined;
  const why = 'SLURM_PROCID is set (a Slurm task), so the task is read as one rank of the job';
  const rank = indexVar(env, 'SLURM_PROCID', why);
  const tasks = countVar(env, 'SLURM_NTASKS', `${why}: the job's number of tasks (srun --ntasks)`);
  const servers = countVar(env, 'PS_NUM_SERVERS', `${why}: how many of the tasks after rank 0 are servers`);
  const listVar =
    envValue(env, 'SLURM_STEP_NODELIST') !== undefined ? 'SLURM_STEP_NODELIST' : 'SLURM_JOB_NODELIST';
  const hosts = expandHostlist(
    requireVar(env, listVar, `${why}: the hosts, the first runs the scheduler`),
    listVar,
  );
  const workers =
    envValue(env, 'PS_NUM_WORKERS') === undefined
      ? tasks - 1 - servers
      : countVar(env, 'PS_NUM_WORKERS', why);
  if (workers < 1 || 1 + servers + workers !== tasks) {
    throw clusterEnvError(
      `SLURM_NTASKS=${tasks} does not hold 1 scheduler + ${servers} servers (PS_NUM_SERVERS) + ${workers < 1 ? 'at least 1 worker' : `${workers} workers (PS_NUM_WORKERS)`}: run ${1 + servers + Math.max(workers, 1)} tasks or change PS_NUM_SERVERS/PS_NUM_WORKERS`,
    );
  }
  const role = roleOfRank(rank, servers, workers, 'SLURM_PROCID');
  // One host: everyone is there. Several: slurmd names the task's node.
  const node =
    hosts.length === 1
      ? (envValue(env, 'SLURMD_NODENAME') ?? hosts[0]!)
      : requireVar(env, 'SLURMD_NODENAME', `${why}: the node this task runs on, which it announces`);
  return rankClusterVars(env, role, hosts[0]!, servers, workers, node);
}
