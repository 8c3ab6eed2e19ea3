import type { ChildProcess } from 'node:child_process';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { NodeMetricsRegistry } from './node-metrics-registry.js';

/** The launcher's question to a role process over the IPC channel: its metrics, please. */
export interface MetricsRequest {
  type: 'metrics-request';
  id: number;
}

/** A role process's answer: its registry's metrics as prom-client JSON. */
export interface MetricsReply {
  type: 'metrics-reply';
  id: number;
  metrics: MetricObjectWithValues<MetricValue<string>>[];
}

/** The variable that tells a role process to answer metrics requests (`1`). */
export const METRICS_IPC_ENV = 'PS_METRICS_IPC';

/** Whether an IPC message is a {@link MetricsReply} (the launcher keeps them out of the job's events). */
export function isMetricsReply(m: unknown): m is MetricsReply {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'metrics-reply';
}

/**
 * In a role process: answers the launcher's metrics requests with `metrics`' JSON (the role
 * disconnects its channel when its work is done, as without metrics). Returns what stops
 * answering.
 */
export function answerMetricsRequests(metrics: NodeMetricsRegistry): () => void {
  const on = (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as MetricsRequest).type !== 'metrics-request') return;
    const { id } = m as MetricsRequest;
    void metrics.getMetricsAsJSON().then(
      (json) => {
        if (process.connected)
          process.send?.({ type: 'metrics-reply', id, metrics: json } satisfies MetricsReply);
      },
      () => undefined,
    );
  };
  process.on('message', on);
  return () => process.off('message', on);
}

/**
 * Asks a role process for its metrics; resolves with them, or with none when it does not answer
 * within `timeoutMs` (it exited, or it is busy: a scrape never waits on one role for long).
 */
export function requestMetrics(
  child: ChildProcess,
  id: number,
  timeoutMs: number,
): Promise<MetricObjectWithValues<MetricValue<string>>[] | undefined> {
  if (!child.connected) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const done = (v: MetricObjectWithValues<MetricValue<string>>[] | undefined) => {
      clearTimeout(timer);
      child.off('message', on);
      child.off('exit', gone);
      resolve(v);
    };
    const on = (m: unknown) => {
      if (isMetricsReply(m) && m.id === id) done(m.metrics);
    };
    const gone = () => done(undefined);
    const timer = setTimeout(gone, timeoutMs);
    child.on('message', on);
    child.once('exit', gone);
    try {
      child.send({ type: 'metrics-request', id } satisfies MetricsRequest, (err) => err && done(undefined));
    } catch {
      done(undefined);
    }
  });
}
