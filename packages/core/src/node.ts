/**
 * The Node.js-only part of @ps/core (it imports `node:fs`, `node:os`): atomic snapshot files, and
 * the cluster read from an orchestrator's environment (`resolveClusterEnv`). Import from
 * `@ps/core/node`; everything else is in `@ps/core`, which stays importable in a browser.
 */

export { type ClusterVars, DEFAULT_SCHEDULER_PORT, type EnvVars } from './bootstrap/cluster-vars.js';
export { dmlcClusterVars, type InterfaceAddresses } from './bootstrap/dmlc-vars.js';
export { expandHostlist, MAX_HOSTLIST_HOSTS } from './bootstrap/expand-hostlist.js';
export { indexedJobClusterVars, jobSetClusterVars } from './bootstrap/kubernetes-vars.js';
export {
  CLUSTER_DIALECTS,
  type ClusterDialect,
  clusterConfigFromEnv,
  type ResolvedClusterEnv,
  resolveClusterEnv,
} from './bootstrap/resolve-cluster-env.js';
export { slurmClusterVars } from './bootstrap/slurm-vars.js';
export { type RestoreOptions, restoreServer, snapshotServer } from './store/server-snapshot.js';
export { readSnapshot, readSnapshotMeta, writeSnapshot } from './store/snapshot-file.js';
