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

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The long-form rows of the training curves: per worker, its training loss and accuracy at each
 * progress report; held out, worker 0's test accuracy during training and the final evaluation's
 * accuracy and log-loss. Points whose value is not a number (a report with no rows) are left out;
 * epochs are rounded to 4 decimals, values to 5.
 */
export function curveRows(training: readonly TrainingPoint[], heldOut: readonly HeldOutPoint[]): CurveRow[] {
  const rows: CurveRow[] = [];
  // Rounded: a plot needs no more digits, and its SVG stays small.
  const add = (epoch: number, metric: CurveRow['metric'], series: string, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value))
      rows.push({ epoch: round(epoch, 4), metric, series, value: round(value, 5) });
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

/** Tableau 10 (Vega's default scheme): worker i's colour, and server i's on the dashboard's ring. */
export const PALETTE = [
  '#4c78a8',
  '#f58518',
  '#e45756',
  '#72b7b2',
  '#54a24b',
  '#eeca3b',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
] as const;

/**
 * The colour scale of `workers` workers' series and the held-out one (near black), fixed before
 * any point arrives, so that a series keeps its colour as others appear.
 */
export function seriesColors(workers: number): { domain: string[]; range: string[] } {
  const domain = ['held-out'];
  const range = ['#222222'];
  for (let w = 0; w < workers; w++) {
    domain.push(`train, worker ${w}`);
    range.push(PALETTE[w % PALETTE.length]!);
  }
  return { domain, range };
}

/**
 * The Vega-Lite spec of the training curves of a job of `workers` workers: log-loss above
 * accuracy, both over epochs, one coloured line (with its points) per series. With `values` the
 * data is inline (the `--plot` SVG); without, it is the named data set `curves`, which the
 * dashboard fills in as the job runs. `width` and `height` are each chart's, in pixels.
 */
export function trainingCurvesSpec(opts: {
  workers: number;
  values?: CurveRow[];
  title?: string;
  width?: number;
  height?: number;
}): TopLevelSpec {
  const colors = seriesColors(opts.workers);
  const chart = (metric: CurveRow['metric'], zero: boolean) => ({
    title: metric,
    width: opts.width ?? 520,
    height: opts.height ?? 180,
    transform: [{ filter: { field: 'metric', equal: metric } }],
    mark: { type: 'line' as const, point: true, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epochs', scale: { domainMin: 0 } },
      y: { field: 'value', type: 'quantitative' as const, title: metric, scale: { zero } },
      color: { field: 'series', type: 'nominal' as const, title: null, scale: colors },
      order: { field: 'epoch', type: 'quantitative' as const },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    data: opts.values ? { values: opts.values } : { name: 'curves' },
    vconcat: [chart('log-loss', true), chart('accuracy', false)],
    resolve: { scale: { color: 'shared' } },
    // Laid out again on every update: the legend grows as series appear.
    autosize: { type: 'pad', resize: true },
    config: { font: 'sans-serif', legend: { orient: 'right' } },
  };
}

/**
 * At most `max` rows of each series of each metric (at least 2), evenly spread over its rows in
 * order, its first and last kept: a long job's curves keep their shape in a small SVG.
 */
export function thinCurves(rows: readonly CurveRow[], max: number): CurveRow[] {
  const groups = new Map<string, CurveRow[]>();
  for (const r of rows) {
    const k = `${r.metric}\u0000${r.series}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const keep = Math.max(2, max);
  const out: CurveRow[] = [];
  for (const g of groups.values()) {
    if (g.length <= keep) out.push(...g);
    else for (let i = 0; i < keep; i++) out.push(g[Math.round((i * (g.length - 1)) / (keep - 1))]!);
  }
  return out;
}
