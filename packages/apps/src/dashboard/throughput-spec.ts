import type { TopLevelSpec } from 'vega-lite';
import type { TrainingPoint } from './job-feed.js';

/** A row of the throughput chart: one rate of one worker at one progress report. */
export interface ThroughputRow {
  /** Seconds since the job started. */
  seconds: number;
  /** `keys pushed/s`, `keys pulled/s` or `examples/s`, with the worker: `worker 0: keys pushed/s`. */
  series: string;
  value: number;
}

/** The throughput rows of the workers' progress reports (a worker's first report has no rate: left out). */
export function throughputRows(training: readonly TrainingPoint[]): ThroughputRow[] {
  const rows: ThroughputRow[] = [];
  for (const p of training) {
    for (const [name, value] of [
      ['keys pushed/s', p.keysPushedPerSec],
      ['keys pulled/s', p.keysPulledPerSec],
    ] as const) {
      if (Number.isFinite(value) && value > 0)
        rows.push({ seconds: p.seconds, series: `worker ${p.rank}: ${name}`, value });
    }
  }
  return rows;
}

/**
 * The Vega-Lite spec of the dashboard's throughput chart: keys pushed and pulled per second by
 * each worker over the job's seconds, from the named data set `throughput`. `width` and `height`
 * in pixels.
 */
export function throughputSpec(opts: { width?: number; height?: number } = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'keys per second',
    width: opts.width ?? 520,
    height: opts.height ?? 150,
    data: { name: 'throughput' },
    mark: { type: 'line', point: true, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds since the job started' },
      y: { field: 'value', type: 'quantitative', title: 'keys/s', axis: { format: '~s' } },
      color: { field: 'series', type: 'nominal', title: null },
      order: { field: 'seconds', type: 'quantitative' },
    },
    config: { font: 'sans-serif' },
  };
}
