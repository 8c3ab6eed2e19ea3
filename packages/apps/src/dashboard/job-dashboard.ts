import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';
import type { JobEvent, JobSummary } from '../job/job-events.js';
import { type SlrConfig, slrBatchSize } from '../slr/slr-config.js';
import { startWebServer, type WebServer } from '../web/web-server.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { JobFeed } from './job-feed.js';
import { writeTrainingPlot } from './write-training-plot.js';

/** Options of {@link startJobDashboard}. */
export interface JobDashboardOptions {
  cfg: SlrConfig;
  /** Serve the page, the dashboard and the job's feed at this address (`--serve --web-url`; port 0: any free one). */
  serveAt?: URL;
  /** Write the training curves there as SVG when the job is done (`--plot FILE`). */
  plot?: string;
}

/** A job's dashboard and plot (see {@link startJobDashboard}). */
export interface JobDashboard {
  /** The web server, when serving: the browser worker page at `/`, the dashboard at `/dashboard`. */
  readonly web: WebServer | undefined;
  /** Give it every event of the job. */
  readonly onEvent: (e: JobEvent) => void;
  /**
   * The job ended, with its summary or its error: writes the plot (with a summary), sends the
   * pages the end, and stops the web server.
   */
  end(outcome: { summary: JobSummary } | { error: unknown }): Promise<void>;
}

/**
 * What `pskv slr --serve` and `--plot FILE` add to a job: a {@link JobFeed} of its events, served
 * (with `serveAt`) at `/events` and `/job.json` beside the `/dashboard` page, and written as the
 * training curves' SVG at the end (with `plot`).
 * @throws PsError `PS_ERR_CONFIG` when the plot's folder does not exist or the plot is a folder;
 *   `PS_ERR_BIND` when `serveAt` cannot be listened on.
 */
export async function startJobDashboard(opts: JobDashboardOptions): Promise<JobDashboard> {
  const { cfg } = opts;
  if (opts.plot !== undefined) checkPlotPath(opts.plot);
  const feed = new JobFeed({
    dataset: cfg.dataset,
    servers: cfg.servers,
    workers: cfg.workers,
    transport: cfg.transport,
    epochs: cfg.epochs,
    batchSize: (rowsTrain) => slrBatchSize(cfg, rowsTrain, cfg.workers + cfg.browserWorkers),
  });
  const routes = opts.serveAt ? dashboardRoutes(feed) : undefined;
  const at = opts.serveAt;
  const web = at
    ? await startWebServer({
        host: at.hostname.replace(/^\[|\]$/g, ''),
        port: Number(at.port || 80),
        files: [opts.cfg.dataset, opts.cfg.testDataset],
        ...(routes ? { routes: routes.route } : {}),
      })
    : undefined;
  return {
    web,
    onEvent: (e) => feed.on(e),
    async end(outcome) {
      try {
        if ('summary' in outcome) {
          feed.finish(outcome.summary);
          if (opts.plot !== undefined) await writeTrainingPlot(opts.plot, feed.snapshot());
        } else feed.fail(outcome.error);
      } finally {
        await routes?.close();
        await web?.close();
      }
    },
  };
}

function checkPlotPath(file: string): void {
  const dir = dirname(resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new PsError(
      PsErrorCode.CONFIG,
      `--plot ${file}: the folder ${dir} does not exist; create it or give another file`,
    );
  if (existsSync(file) && statSync(file).isDirectory())
    throw new PsError(PsErrorCode.CONFIG, `--plot ${file} is a folder: give the SVG file to write`);
}
