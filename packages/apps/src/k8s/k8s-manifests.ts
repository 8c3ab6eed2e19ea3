import { PsError, PsErrorCode } from '@ps/core';
import { DEFAULT_SCHEDULER_PORT } from '@ps/core/node';

/** What `pskv k8s` writes manifests for. */
export interface K8sJobSpec {
  /** The job's name: the JobSet's (or Job's) and the headless Service's (a DNS label, ≤ 40 characters). */
  name: string;
  /** The container image (built from the repository's `Dockerfile`). */
  image: string;
  /** Server pods. */
  servers: number;
  /** Worker pods. */
  workers: number;
  /** `jobset` (a JobSet: scheduler, server and worker replicated jobs) or `indexed-job` (one Indexed Job). */
  flavor: 'jobset' | 'indexed-job';
  /** The arguments of `pskv start` after `start`: the job's options (`--dataset imdb --epochs 1`...). */
  args: readonly string[];
  /** The scheduler's port. Default 9700 (`DEFAULT_SCHEDULER_PORT`). */
  port?: number;
  /** The namespace of every object; none: the one `kubectl apply` uses. */
  namespace?: string;
  /** How many times the whole JobSet is recreated after a pod failed transiently (exit 75, 3). Default 3. */
  maxRestarts?: number;
  /** A Secret holding the cluster secret under the key `secret`, given to every pod as `PS_SECRET`. */
  secretName?: string;
}

/** A Kubernetes object, as plain data for `yaml` to write. */
export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string };

/** The exit codes of `pskv start` that a restart does not cure (failed, bad usage): the job fails. */
const FATAL_EXIT_CODES = [1, 2];
const CONTAINER = 'pskv';
const LABEL = 'app.kubernetes.io/name';

/**
 * The manifests of a job on Kubernetes: a headless Service (the pods' DNS names) and either a
 * JobSet (`jobset.x-k8s.io/v1alpha2`: the `scheduler`, `server` and `worker` replicated jobs, each
 * one Indexed Job, created in that order, `startupPolicyOrder: InOrder`, the scheduler's pod ready
 * once its port answers; `failurePolicy.maxRestarts` recreates every pod after a transient
 * failure, exit 75, while exit 1 or 2 fails the JobSet at once through the Jobs'
 * `podFailurePolicy`) or one Indexed Job of `1 + servers + workers` pods for clusters without
 * JobSet (rank 0 the scheduler, then the servers, then the workers; Kubernetes recreates a failed
 * pod alone, up to `maxRestarts` times). Each pod runs `pskv start` and finds its role and its
 * peers from its environment (`resolveClusterEnv`: the JobSet labels, or the completion index,
 * through the downward API).
 * @throws PsError `PS_ERR_CONFIG` for a name that is no DNS label (or too long for the pods'
 *   host names), counts below 1, a port out of range, or a negative `maxRestarts`.
 */
export function k8sManifests(spec: K8sJobSpec): K8sObject[] {
  check(spec);
  const port = spec.port ?? DEFAULT_SCHEDULER_PORT;
  const meta = (name: string) => ({
    name,
    ...(spec.namespace ? { namespace: spec.namespace } : {}),
    labels: { [LABEL]: 'pskv', 'app.kubernetes.io/instance': spec.name },
  });
  const jobSet = spec.flavor === 'jobset';
  const service: K8sObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(spec.name),
    spec: {
      clusterIP: 'None',
      // The scheduler's name resolves before its pod is ready: nodes may dial it at once.
      publishNotReadyAddresses: true,
      selector: jobSet
        ? { 'jobset.sigs.k8s.io/jobset-name': spec.name }
        : { 'batch.kubernetes.io/job-name': spec.name },
      ports: [{ name: 'scheduler', port, targetPort: port, protocol: 'TCP' }],
    },
  };
  const env = (extra: { name: string; value?: string; valueFrom?: unknown }[]) => [
    ...extra,
    { name: 'PS_NUM_SERVERS', value: String(spec.servers) },
    { name: 'PS_NUM_WORKERS', value: String(spec.workers) },
    { name: 'PS_SUBDOMAIN', value: spec.name },
    { name: 'PS_SCHEDULER_PORT', value: String(port) },
    ...(spec.secretName
      ? [{ name: 'PS_SECRET', valueFrom: { secretKeyRef: { name: spec.secretName, key: 'secret' } } }]
      : []),
  ];
  const fromLabel = (name: string, label: string) => ({
    name,
    valueFrom: { fieldRef: { fieldPath: `metadata.labels['${label}']` } },
  });
  // `listens`: the container's port is declared (and, for the scheduler's own pod, probed).
  const pod = (vars: ReturnType<typeof env>, listens: 'probe' | 'port' | 'no') => ({
    metadata: { labels: { [LABEL]: 'pskv', 'app.kubernetes.io/instance': spec.name } },
    spec: {
      restartPolicy: 'Never',
      ...(jobSet ? {} : { subdomain: spec.name }),
      containers: [
        {
          name: CONTAINER,
          image: spec.image,
          args: ['start', ...spec.args],
          env: vars,
          ...(listens === 'no'
            ? {}
            : { ports: [{ name: 'scheduler', containerPort: port, protocol: 'TCP' }] }),
          ...(listens === 'probe' ? { readinessProbe: { tcpSocket: { port }, periodSeconds: 2 } } : {}),
        },
      ],
    },
  });
  const podFailurePolicy = {
    rules: [
      {
        action: 'FailJob',
        onExitCodes: { containerName: CONTAINER, operator: 'In', values: FATAL_EXIT_CODES },
      },
      // A pod evicted or preempted is not the job's fault.
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    ],
  };
  if (!jobSet) {
    const n = 1 + spec.servers + spec.workers;
    const job: K8sObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(spec.name),
      spec: {
        completionMode: 'Indexed',
        completions: n,
        parallelism: n,
        backoffLimit: spec.maxRestarts ?? 3,
        podFailurePolicy,
        // One template for every rank: only rank 0 listens at the port.
        template: pod(env([fromLabel('JOB_NAME', 'batch.kubernetes.io/job-name')]), 'port'),
      },
    };
    return [service, job];
  }
  const labels = [
    fromLabel('JOBSET_NAME', 'jobset.sigs.k8s.io/jobset-name'),
    fromLabel('REPLICATED_JOB_NAME', 'jobset.sigs.k8s.io/replicatedjob-name'),
    fromLabel('JOB_INDEX', 'jobset.sigs.k8s.io/job-index'),
  ];
  const replicated = (name: 'scheduler' | 'server' | 'worker', pods: number) => ({
    name,
    replicas: 1,
    template: {
      spec: {
        completionMode: 'Indexed',
        completions: pods,
        parallelism: pods,
        // Any failed pod fails its Job; the JobSet then restarts every Job (failurePolicy).
        backoffLimit: 0,
        podFailurePolicy,
        template: pod(env(labels), name === 'scheduler' ? 'probe' : 'no'),
      },
    },
  });
  const set: K8sObject = {
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata: meta(spec.name),
    spec: {
      network: { enableDNSHostnames: true, subdomain: spec.name, publishNotReadyAddresses: true },
      startupPolicy: { startupPolicyOrder: 'InOrder' },
      failurePolicy: {
        maxRestarts: spec.maxRestarts ?? 3,
        rules: [
          // A Job failed by its podFailurePolicy (exit 1 or 2): restarting does not help.
          { name: 'fatalExit', action: 'FailJobSet', onJobFailureReasons: ['PodFailurePolicy'] },
        ],
      },
      replicatedJobs: [
        replicated('scheduler', 1),
        replicated('server', spec.servers),
        replicated('worker', spec.workers),
      ],
    },
  };
  return [service, set];
}

function check(spec: K8sJobSpec): void {
  const bad = (m: string) => new PsError(PsErrorCode.CONFIG, m);
  if (!/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(spec.name)) {
    throw bad(
      `--name must be a DNS label of at most 40 characters (lower-case letters, digits, '-'; the pods' host names add to it), got '${spec.name}'`,
    );
  }
  for (const [flag, n] of [
    ['--servers', spec.servers],
    ['--workers', spec.workers],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
      throw bad(`${flag} must be an integer from 1 to 10000, got ${n}`);
  }
  if (spec.port !== undefined && (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)) {
    throw bad(`--port must be a port from 1 to 65535, got ${spec.port}`);
  }
  if (spec.maxRestarts !== undefined && (!Number.isInteger(spec.maxRestarts) || spec.maxRestarts < 0)) {
    throw bad(`--max-restarts must be a non-negative integer, got ${spec.maxRestarts}`);
  }
  if (spec.image.trim() === '')
    throw bad('--image must name the container image (built from the Dockerfile)');
  if (spec.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(spec.namespace)) {
    throw bad(`--namespace must be a DNS label, got '${spec.namespace}'`);
  }
}
