import type { TopLevelSpec } from 'vega-lite';
import type { TrainingPoint } from './job-feed.js';
import { PALETTE } from './training-curves-spec.js';

/** A row of the throughput chart: one rate of one worker at one progress report. */
export interface ThroughputRow {
  /** Seconds since the job started. */
  seconds: number;
  /** `worker <rank>`. */
  worker: string;
  direction: 'pushed' | 'pulled';
  value: number;
}

/** The throughput rows of the workers' progress reports (a worker's first report has no rate: left out). */
export function throughputRows(training: readonly TrainingPoint[]): ThroughputRow[] {
  const rows: ThroughputRow[] = [];
  for (const p of training) {
    for (const [direction, value] of [
      ['pushed', p.keysPushedPerSec],
      ['pulled', p.keysPulledPerSec],
    ] as const) {
      if (Number.isFinite(value) && value > 0)
        rows.push({ seconds: p.seconds, worker: `worker ${p.rank}`, direction, value });
    }
  }
  return rows;
}

/**
 * The Vega-Lite spec of the dashboard's throughput chart: keys pushed (solid) and pulled (dashed)
 * per second by each of `workers` workers (a colour each, as in the training curves) over the
 * job's seconds, from the named data set `throughput`. `width` and `height` in pixels.
 */
export function throughputSpec(opts: { workers: number; width?: number; height?: number }): TopLevelSpec {
  const workers = Array.from({ length: opts.workers }, (_, w) => `worker ${w}`);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'keys per second',
    width: opts.width ?? 520,
    height: opts.height ?? 150,
    data: { name: 'throughput' },
    // Laid out again on every update: the legend grows as series appear.
    autosize: { type: 'pad', resize: true },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds since the job started' },
      y: { field: 'value', type: 'quantitative', title: 'keys/s', axis: { format: '~s' } },
      color: {
        field: 'worker',
        type: 'nominal',
        title: null,
        scale: { domain: workers, range: workers.map((_, w) => PALETTE[w % PALETTE.length]!) },
      },
      strokeDash: {
        field: 'direction',
        type: 'nominal',
        title: 'keys',
        scale: {
          domain: ['pushed', 'pulled'],
          range: [
            [1, 0],
            [4, 3],
          ],
        },
      },
      order: { field: 'seconds', type: 'quantitative' },
    },
    config: { font: 'sans-serif' },
  };
}
