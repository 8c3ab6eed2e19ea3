import type { ChildProcess } from 'node:child_process';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import { requestMetrics } from './metrics-ipc.js';
import { NodeMetricsRegistry } from './node-metrics-registry.js';

/** How long a scrape waits for one role process's answer, in ms. */
const CHILD_TIMEOUT_MS = 2_000;

/**
 * The metrics of a whole job, whose roles may run in other processes: the launcher adds each
 * role process it spawns (`addChild`) and the nodes it runs itself to `local`; a scrape asks
 * every live role process for its metrics over the IPC channel (see `answerMetricsRequests`)
 * and merges them with this process's, each node's series kept apart by their `node` and
 * `role` labels. A role that has exited is no longer listed.
 */
export class JobMetrics {
  /** The nodes that run in this process (`--transport inproc`). */
  readonly local = new NodeMetricsRegistry();
  private readonly children = new Map<string, ChildProcess>();
  private nextId = 0;

  /** Adds a role process (with an IPC channel); it leaves the metrics when it exits. */
  addChild(name: string, child: ChildProcess): void {
    this.children.set(name, child);
    child.once('exit', () => {
      if (this.children.get(name) === child) this.children.delete(name);
    });
  }

  /** The prom-client registry of every node of the job, merged at the time of the call. */
  async registry(): Promise<Registry> {
    const all: MetricObjectWithValues<MetricValue<string>>[][] = [await this.local.getMetricsAsJSON()];
    const replies = await Promise.all(
      [...this.children.values()].map((c) => requestMetrics(c, this.nextId++, CHILD_TIMEOUT_MS)),
    );
    for (const r of replies) if (r) all.push(r);
    return AggregatorRegistry.aggregate(all);
  }

  /** Every node's metrics in Prometheus' text format. */
  async metrics(): Promise<string> {
    return (await this.registry()).metrics();
  }
}
