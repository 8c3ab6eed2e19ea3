import { answerMetricsRequests, METRICS_IPC_ENV } from './metrics-ipc.js';
import { NodeMetricsRegistry } from './node-metrics-registry.js';

/**
 * The metrics of a role process that a launcher asked for (`PS_METRICS_IPC=1` and an IPC
 * channel, as `pskv slr --metrics-port` starts its roles): a registry that answers the
 * launcher's requests. Otherwise none, and the role keeps no metrics collectors at all.
 */
export function metricsForRole(env: NodeJS.ProcessEnv = process.env): NodeMetricsRegistry | undefined {
  if (env[METRICS_IPC_ENV] !== '1' || !process.send) return undefined;
  const metrics = new NodeMetricsRegistry();
  answerMetricsRequests(metrics);
  return metrics;
}
