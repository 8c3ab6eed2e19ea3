import { networkInterfaces } from 'node:os';
import {
  type ClusterVars,
  clusterEnvError,
  type EnvVars,
  envValue,
  hostPort,
  requireVar,
} from './cluster-vars.js';

/** The addresses of this machine's network interfaces by name (`os.networkInterfaces()`'s shape). */
export type InterfaceAddresses = () => Record<
  string,
  { address: string; family: string; internal: boolean }[] | undefined
>;

/**
 * ps-lite's dialect (`DMLC_*`, as BytePS and MXNet's launchers set it) as `PS_*` variables:
 * `DMLC_ROLE` (scheduler, server, worker), `DMLC_PS_ROOT_URI` and `DMLC_PS_ROOT_PORT` (the
 * scheduler's host and port), `DMLC_NUM_SERVER`, `DMLC_NUM_WORKER`, and this node's address:
 * `DMLC_NODE_HOST`, else the first IPv4 address of the interface `DMLC_INTERFACE` (e.g. `eth0`).
 * Undefined when `DMLC_ROLE` is unset.
 * @throws PsError `PS_ERR_CLUSTER_ENV` naming the variable that is missing or wrong.
 */
export function dmlcClusterVars(
  env: EnvVars,
  interfaces: InterfaceAddresses = networkInterfaces,
): ClusterVars | undefined {
  const role = envValue(env, 'DMLC_ROLE');
  if (role === undefined) return undefined;
  if (role !== 'scheduler' && role !== 'server' && role !== 'worker') {
    throw clusterEnvError(`DMLC_ROLE must be scheduler, server or worker, got '${role}'`);
  }
  const why = `DMLC_ROLE=${role} is set, so ps-lite's variables describe the cluster`;
  const uri = requireVar(env, 'DMLC_PS_ROOT_URI', `${why} (the scheduler's host)`);
  const port = requireVar(env, 'DMLC_PS_ROOT_PORT', `${why} (the scheduler's port)`);
  const vars: ClusterVars = {
    PS_ROLE: role,
    PS_SCHEDULER: hostPort(uri, Number(port)),
    PS_NUM_SERVERS: requireVar(env, 'DMLC_NUM_SERVER', why),
    PS_NUM_WORKERS: requireVar(env, 'DMLC_NUM_WORKER', why),
  };
  if (!/^\d+$/.test(port)) throw clusterEnvError(`DMLC_PS_ROOT_PORT must be a port number, got '${port}'`);
  const host = envValue(env, 'DMLC_NODE_HOST') ?? interfaceAddress(env, interfaces);
  if (host !== undefined) vars.PS_HOST = host;
  return vars;
}

/** The first IPv4 address of `DMLC_INTERFACE`, when set. */
function interfaceAddress(env: EnvVars, interfaces: InterfaceAddresses): string | undefined {
  const name = envValue(env, 'DMLC_INTERFACE');
  if (name === undefined) return undefined;
  const all = interfaces();
  const found = all[name]?.find((a) => a.family === 'IPv4' || (a.family as unknown) === 4);
  if (!found) {
    throw clusterEnvError(
      `DMLC_INTERFACE=${name} names no interface with an IPv4 address here (interfaces: ${Object.keys(all).join(', ')}); set DMLC_NODE_HOST instead`,
    );
  }
  return found.address;
}
