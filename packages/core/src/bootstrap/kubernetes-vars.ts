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

/** The replicated-job names of a JobSet that mean each role (`pskv k8s` writes the singular). */
const JOBSET_ROLES: Readonly<Record<string, 'scheduler' | 'server' | 'worker'>> = {
  scheduler: 'scheduler',
  server: 'server',
  servers: 'server',
  worker: 'worker',
  workers: 'worker',
};

/**
 * A Kubernetes JobSet's pod as `PS_*` variables. A JobSet labels its pods with their JobSet, their
 * replicated job and their job's index; the manifests of `pskv k8s` hand the labels to the
 * container through the downward API as `JOBSET_NAME` (`jobset.sigs.k8s.io/jobset-name`),
 * `REPLICATED_JOB_NAME` (`jobset.sigs.k8s.io/replicatedjob-name`: `scheduler`, `server` or
 * `worker`, the plurals too) and `JOB_INDEX` (`jobset.sigs.k8s.io/job-index`, default 0); Kubernetes
 * sets `JOB_COMPLETION_INDEX` (the pod's index in its Indexed Job). With `network.enableDNSHostnames`
 * a pod is reachable as `<jobset>-<replicated job>-<job index>-<pod index>.<subdomain>`, the
 * subdomain being `PS_SUBDOMAIN` (default: the JobSet's name, as JobSet's own default). So the
 * scheduler is `<jobset>-scheduler-0-0.<subdomain>:<PS_SCHEDULER_PORT or 9700>` and each pod
 * announces its own such name. `PS_NUM_SERVERS` and `PS_NUM_WORKERS` are read as they are.
 * Undefined when `JOBSET_NAME` is unset.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming the variable that is missing or wrong.
 */
export function jobSetClusterVars(env: EnvVars): ClusterVars | undefined {
  const jobSet = envValue(env, 'JOBSET_NAME');
  if (jobSet === undefined) return undefined;
  const why = `JOBSET_NAME=${jobSet} is set, so the pod is read as a JobSet's`;
  const rjob = requireVar(
    env,
    'REPLICATED_JOB_NAME',
    `${why} (give it the label jobset.sigs.k8s.io/replicatedjob-name through the downward API)`,
  );
  const role = JOBSET_ROLES[rjob];
  if (!role) {
    throw clusterEnvError(
      `REPLICATED_JOB_NAME must be scheduler, server or worker (the JobSet's replicated jobs are named after the roles), got '${rjob}'`,
    );
  }
  const jobIndex = envValue(env, 'JOB_INDEX') === undefined ? 0 : indexVar(env, 'JOB_INDEX', why);
  const podIndex = indexVar(env, 'JOB_COMPLETION_INDEX', `${why} (the replicated jobs must be Indexed Jobs)`);
  const servers = countVar(env, 'PS_NUM_SERVERS', `${why}: the job's number of servers`);
  const workers = countVar(env, 'PS_NUM_WORKERS', `${why}: the job's number of workers`);
  if (role === 'scheduler' && (jobIndex !== 0 || podIndex !== 0)) {
    throw clusterEnvError(
      `the scheduler's replicated job must be one pod (replicas 1, completions 1), but this pod has JOB_INDEX=${jobIndex} and JOB_COMPLETION_INDEX=${podIndex}`,
    );
  }
  const subdomain = envValue(env, 'PS_SUBDOMAIN') ?? jobSet;
  return rankClusterVars(
    env,
    role,
    `${jobSet}-scheduler-0-0.${subdomain}`,
    servers,
    workers,
    `${jobSet}-${rjob}-${jobIndex}-${podIndex}.${subdomain}`,
  );
}

/**
 * A plain Kubernetes Indexed Job's pod (for clusters without JobSet) as `PS_*` variables: one Job
 * of `1 + PS_NUM_SERVERS + PS_NUM_WORKERS` completions, whose completion index
 * (`JOB_COMPLETION_INDEX`, set by Kubernetes) is the rank: 0 the scheduler, then the servers,
 * then the workers. Under a headless Service named `PS_SUBDOMAIN` (the pods' `subdomain`), pod i
 * is `<JOB_NAME>-<i>.<PS_SUBDOMAIN>`; `JOB_NAME` is the Job's name (the label
 * `batch.kubernetes.io/job-name` through the downward API, as the manifests of
 * `pskv k8s --flavor indexed-job` do). Undefined when `JOB_COMPLETION_INDEX` is unset.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming the variable that is missing or wrong.
 */
export function indexedJobClusterVars(env: EnvVars): ClusterVars | undefined {
  if (envValue(env, 'JOB_COMPLETION_INDEX') === undefined) return undefined;
  const why = 'JOB_COMPLETION_INDEX is set (an Indexed Job), so the pod is read as one rank of the job';
  const rank = indexVar(env, 'JOB_COMPLETION_INDEX', why);
  const job = requireVar(
    env,
    'JOB_NAME',
    `${why}: the Job's name (give it the label batch.kubernetes.io/job-name through the downward API; in a JobSet set JOBSET_NAME)`,
  );
  const subdomain = requireVar(
    env,
    'PS_SUBDOMAIN',
    `${why}: the headless Service named as the pods' subdomain`,
  );
  const servers = countVar(env, 'PS_NUM_SERVERS', `${why}: the job's number of servers`);
  const workers = countVar(env, 'PS_NUM_WORKERS', `${why}: the job's number of workers`);
  const role = roleOfRank(rank, servers, workers, 'JOB_COMPLETION_INDEX');
  return rankClusterVars(env, role, `${job}-0.${subdomain}`, servers, workers, `${job}-${rank}.${subdomain}`);
}
