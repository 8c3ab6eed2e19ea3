/** The kinds of data request a worker sends and a server answers. */
export type RequestKind = 'push' | 'pull' | 'pushPull';

/** The kinds of request, in the order {@link RequestMetrics} reports them. */
export const REQUEST_KINDS: readonly RequestKind[] = ['push', 'pull', 'pushPull'];

/**
 * Upper bounds of the request duration buckets, in seconds (a request on 127.0.0.1 takes well
 * under a millisecond; one held behind a slow server or a resend takes seconds).
 */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Durations of one kind of request as a histogram of fixed buckets: plain numbers, so that a
 * node keeps it at the cost of a few comparisons per answered request and a Prometheus
 * collector (Node only) reads it when scraped.
 */
export interface DurationHistogram {
  /** Upper bounds of the buckets, in seconds ({@link REQUEST_DURATION_BUCKETS}). */
  readonly bounds: readonly number[];
  /**
   * Observations per bucket, not cumulative: `counts[i]` those in `(bounds[i-1], bounds[i]]`,
   * the last entry (`counts[bounds.length]`) those above every bound.
   */
  readonly counts: Float64Array;
  /** Observations in all. */
  count: number;
  /** Sum of the observations, in seconds. */
  sum: number;
}

/**
 * Data requests of one app on one node, counted by kind: on a worker those it sent (each
 * `push`, `pull` or `pushPull` once, however many servers it was sliced to) and how long each
 * took from being sent to its last answer (successful ones); on a server those it admitted
 * (one per slice it received, a resent copy of a request it already has not counted again).
 * Counting is an increment; nothing is done per key.
 */
export class RequestMetrics {
  /** Requests by kind. */
  readonly requests: Record<RequestKind, number> = { push: 0, pull: 0, pushPull: 0 };
  /** Durations by kind, in seconds (a server's stay empty). */
  readonly durations: Record<RequestKind, DurationHistogram> = {
    push: histogram(),
    pull: histogram(),
    pushPull: histogram(),
  };

  /** Counts one request of `kind`. */
  count(kind: RequestKind): void {
    this.requests[kind]++;
  }

  /** Records that a request of `kind` took `seconds` from being sent to its answer. */
  observe(kind: RequestKind, seconds: number): void {
    const h = this.durations[kind];
    const b = h.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    h.counts[i]!++;
    h.count++;
    h.sum += seconds;
  }
}

function histogram(): DurationHistogram {
  return {
    bounds: REQUEST_DURATION_BUCKETS,
    counts: new Float64Array(REQUEST_DURATION_BUCKETS.length + 1),
    count: 0,
    sum: 0,
  };
}

/** The kind of a request from its push and pull flags. */
export function requestKind(push: boolean, pull: boolean): RequestKind {
  return push && pull ? 'pushPull' : push ? 'push' : 'pull';
}
