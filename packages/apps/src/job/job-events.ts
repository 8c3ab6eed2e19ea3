import type { TrafficStats } from '@ps/core';
import type { ClusterDigest } from '../dashboard/cluster-digest.js';
import type { SlrEvalPoint, SlrEvaluation, SlrProgress, SlrWorkerReport } from '../slr/train-slr-worker.js';

/** What a role process tells the launcher (over the IPC channel) while the job runs. */
export type JobEvent =
  | { type: 'listening'; role: 'scheduler' | 'server'; port: number }
  | { type: 'spawned'; role: string; pid: number }
  /** `--kill` SIGKILLed a role when training reached share `at` of its rows. */
  | { type: 'killed'; role: string; pid: number; at: number }
  | { type: 'data'; rank: number; rowsTrain: number; rowsTest: number; features: number; loadSeconds: number }
  | SlrProgress
  | SlrEvalPoint
  | { type: 'worker-report'; report: SlrWorkerReport }
  | { type: 'evaluation'; evaluation: SlrEvaluation }
  | {
      type: 'stats';
      role: string;
      stats: TrafficStats;
      /** Each filter's segment bytes before and after encoding, on this node. */
      filters?: { signature: string; bytesIn: number; bytesOut: number }[];
      /** A server's push requests to the model (app 0), per worker node id. */
      pushesBySender?: Record<string, number>;
      /** A server's segment bytes sent to other servers to replicate (see `replica_bytes`). */
      replicaBytes?: number;
    }
  | { type: 'failed'; role: string; message: string }
  /** The scheduler's every new view of the cluster (nodes, states, the ring), for the dashboard. */
  | { type: 'view'; cluster: ClusterDigest };

/** The summary of a run: the JSON object `pskv slr --json` prints as its last line. */
export interface JobSummary {
  dataset: string;
  rows_train: number;
  rows_test: number;
  features: number;
  servers: number;
  /** Node worker processes (browser workers not included). */
  workers: number;
  /** Workers that joined from browser tabs. */
  browser_workers: number;
  transport: string;
  epochs: number;
  batch_size: number;
  optimizer: string;
  /** Wall-clock seconds from launch to the last role's exit. */
  seconds: number;
  /** Seconds spent training and evaluating (after every worker loaded its data). */
  train_seconds: number;
  accuracy: number;
  logloss: number;
  auc: number;
  /** Bytes all nodes handed to their transports (frames, including headers). */
  bytes_sent: number;
  /** Bytes all nodes received from their transports. */
  bytes_received: number;
  /** Of `bytes_sent`: what the workers sent (pushes, pulls) and what the servers sent (answers). */
  bytes_sent_by_workers: number;
  bytes_sent_by_servers: number;
  /**
   * Of `bytes_sent_by_servers`: the segment bytes (keys, values) servers sent to other servers to
   * replicate (forwards of pushes, or of iteration sums in sync mode, and range copies).
   */
  replica_bytes: number;
  /** The consistency model (`sequential`, `eventual`, `bounded`) and its τ in batches (null: ∞). */
  consistency: string;
  tau: number | null;
  /** The last worker's slowdown factor (1: none). */
  straggler: number;
  /** Mean over workers of the share of training time spent waiting on pulls and pushes. */
  worker_idle_fraction: number;
  /**
   * The largest gap in finished batches observed between the fastest and the slowest live worker
   * (the maximum over workers of what each saw on the workers' progress clock); at most τ + 1 with
   * bounded delay τ, 1 with sequential.
   */
  max_staleness: number;
  /** The filter chain (`--filters`), empty for none. */
  filters: string;
  /** Replicas per key range (`--replicas`; -1: the default). */
  replicas: number;
  /** Roles SIGKILLed by `--kill`, with the share of training done when each was killed. */
  killed: { role: string; at: number }[];
  /** Per filter, summed over every node: segment bytes it was given and bytes it produced. */
  bytes_by_filter: Record<string, { bytes_in: number; bytes_out: number }>;
  /**
   * Push requests to the model the servers received, per worker node id (browser workers' ids
   * start with `tab-`); a push that spans several servers counts once at each.
   */
  push_requests_by_worker: Record<string, number>;
  /** Worker 0's test accuracy during training (with `--eval-every`): seconds since it started. */
  evals?: { seconds: number; batches: number; accuracy: number }[];
}
