import type { TopLevelSpec } from 'vega-lite';
import type { HeldOutPoint, TrainingPoint } from './job-feed.js';

/** A row of the curves' data: one value of one metric of one series at one point of training. */
export interface CurveRow {
  /** Progress in epochs. */
  epoch: number;
  metric: 'log-loss' | 'accuracy';
  /** `train, worker <rank>` or `held-out`. */
  series: string;
  value: number;
}

/**
 * The long-form rows of the training curves: per worker, its training loss and accuracy at each
 * progress report; held out, worker 0's test accuracy during training and the final evaluation's
 * accuracy and log-loss. Points whose value is not a number (a report with no rows) are left out.
 */
export function curveRows(training: readonly TrainingPoint[], heldOut: readonly HeldOutPoint[]): CurveRow[] {
  const rows: CurveRow[] = [];
  const add = (epoch: number, metric: CurveRow['metric'], series: string, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) rows.push({ epoch, metric, series, value });
  };
  for (const p of training) {
    add(p.epoch, 'log-loss', `train, worker ${p.rank}`, p.loss);
    add(p.epoch, 'accuracy', `train, worker ${p.rank}`, p.accuracy);
  }
  for (const p of heldOut) {
    add(p.epoch, 'accuracy', 'held-out', p.accuracy);
    add(p.epoch, 'log-loss', 'held-out', p.loss);
  }
  return rows;
}

/**
 * The Vega-Lite spec of the training curves: log-loss above accuracy, both over epochs, one
 * coloured line (with its points) per series. With `values` the data is inline (the `--plot`
 * SVG); without, it is the named data set `curves`, which the dashboard fills in as the job runs.
 * `width` and `height` are each chart's, in pixels.
 */
export function trainingCurvesSpec(
  opts: { values?: CurveRow[]; title?: string; width?: number; height?: number } = {},
): TopLevelSpec {
  const chart = (metric: CurveRow['metric'], zero: boolean) => ({
    title: metric,
    width: opts.width ?? 520,
    height: opts.height ?? 180,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    mark: { type: 'line' as const, point: true, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epochs', scale: { domainMin: 0 } },
      y: { field: 'value', type: 'quantitative' as const, title: metric, scale: { zero } },
      color: { field: 'series', type: 'nominal' as const, title: null },
      order: { field: 'epoch', type: 'quantitative' as const },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    data: opts.values ? { values: opts.values } : { name: 'curves' },
    vconcat: [chart('log-loss', true), chart('accuracy', false)],
    resolve: { scale: { color: 'shared' } },
    config: { font: 'sans-serif', legend: { orient: 'right' } },
  };
}
