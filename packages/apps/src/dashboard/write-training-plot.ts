import { writeFile } from 'node:fs/promises';
import type { JobSnapshot } from './job-feed.js';
import { curveRows, thinCurves, trainingCurvesSpec } from './training-curves-spec.js';

/** Points per series in the SVG, at most: the file stays under about 100 KB. */
const PLOT_POINTS = 40;

/**
 * The training curves of a job as an SVG document (Vega-Lite compiled to Vega, rendered by
 * `view.toSVG()` in Node: no browser, no canvas): log-loss and accuracy over epochs, per worker
 * (training) and held out (worker 0's evaluations and the final one), each series thinned to at
 * most 40 points (first and last kept). The title names the data set, the cluster and the final
 * test accuracy when the job is done.
 */
export async function trainingPlotSvg(s: JobSnapshot): Promise<string> {
  const { job, summary } = s;
  const title = `${job.dataset}: ${job.servers} servers, ${job.workers} workers over ${job.transport}${summary ? `; held-out accuracy ${summary.accuracy}, log-loss ${summary.logloss}` : ''}`;
  const values = thinCurves(curveRows(s.training, s.heldOut), PLOT_POINTS);
  const spec = trainingCurvesSpec({ workers: job.workers, values, title });
  // Loaded on first use: every `pskv` process (each role's too) would pay for it at start.
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes {@link trainingPlotSvg} of `s` to `file` (`pskv slr --plot FILE`). */
export async function writeTrainingPlot(file: string, s: JobSnapshot): Promise<void> {
  await writeFile(file, await trainingPlotSvg(s));
}
