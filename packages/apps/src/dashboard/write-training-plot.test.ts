import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser, type Document } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../job/job-events.js';
import { JobFeed } from './job-feed.js';
import { trainingPlotSvg, writeTrainingPlot } from './write-training-plot.js';

/** A finished job's feed: 2 workers, 3 reports each, one held-out evaluation, then the summary. */
function finishedFeed(reports = 3): JobFeed {
  let ms = 0;
  const feed = new JobFeed(
    { dataset: 'spam', servers: 2, workers: 2, transport: 'tcp', epochs: 2, batchSize: 50 },
    { now: () => ms },
  );
  for (let i = 1; i <= reports; i++) {
    ms = i * 1000;
    for (const rank of [0, 1])
      feed.on({
        type: 'progress',
        rank,
        epoch: 1,
        epochs: 2,
        rowsDone: (i * 400) / reports,
        rowsTotal: 400,
        loss: 0.5 / i + rank / 100,
        accuracy: 0.8 + i / 100,
        examplesPerSec: 100,
        keysPushed: i * 1000,
        keysPulled: i * 1000,
      });
  }
  feed.on({ type: 'eval', seconds: 1, batches: 2, accuracy: 0.9 });
  feed.finish({ epochs: 2, accuracy: 0.97519, logloss: 0.05255 } as JobSummary);
  return feed;
}

function parseSvg(text: string): Document {
  return new DOMParser({
    onError: (level, msg) => {
      throw new Error(`not well-formed XML (${level}): ${msg}`);
    },
  }).parseFromString(text, 'image/svg+xml');
}

/** The aria labels of the points of a chart (`concat_0`: log-loss, `concat_1`: accuracy). */
function points(svg: Document, chart: string): string[] {
  const g = Array.from(svg.getElementsByTagName('g')).find((e) =>
    (e.getAttribute('class') ?? '').split(' ').includes(`${chart}_layer_1_marks`),
  );
  if (!g) throw new Error(`no points of ${chart}`);
  return Array.from(g.getElementsByTagName('path')).map((p) => p.getAttribute('aria-label')!);
}

describe('trainingPlotSvg', () => {
  it('draws log-loss and accuracy over epochs, per worker and held out, as well-formed SVG', async () => {
    const svg = parseSvg(await trainingPlotSvg(finishedFeed().snapshot()));
    expect(svg.documentElement!.tagName).toBe('svg');
    expect(svg.documentElement!.getAttribute('xmlns')).toBe('http://www.w3.org/2000/svg');
    const titles = Array.from(svg.getElementsByTagName('text')).map((t) => t.textContent);
    expect(titles).toContain(
      'spam: 2 servers, 2 workers over tcp; held-out accuracy 0.97519, log-loss 0.05255',
    );
    const loss = points(svg, 'concat_0');
    // Worker 0's three reports at 1/3, 2/3 and all of its 2 epochs; the held-out log-loss at the end.
    expect(loss.filter((l) => l.includes('series: train, worker 0;'))).toEqual([
      'epochs: 0.6667; log-loss: 0.5; series: train, worker 0; epoch: 0.6667',
      'epochs: 1.3333; log-loss: 0.25; series: train, worker 0; epoch: 1.3333',
      'epochs: 2; log-loss: 0.16667; series: train, worker 0; epoch: 2',
    ]);
    expect(loss.filter((l) => l.includes('series: train, worker 1;'))).toHaveLength(3);
    expect(loss.filter((l) => l.includes('series: held-out;'))).toEqual([
      'epochs: 2; log-loss: 0.05255; series: held-out; epoch: 2',
    ]);
    const accuracy = points(svg, 'concat_1');
    expect(accuracy.filter((l) => l.includes('series: held-out;'))).toEqual([
      'epochs: 0.5; accuracy: 0.9; series: held-out; epoch: 0.5',
      'epochs: 2; accuracy: 0.97519; series: held-out; epoch: 2',
    ]);
    expect(accuracy).toHaveLength(8);
  });

  it("thins a long job's curves to 40 points a series, keeping the last", async () => {
    const svg = parseSvg(await trainingPlotSvg(finishedFeed(200).snapshot()));
    const loss = points(svg, 'concat_0').filter((l) => l.includes('series: train, worker 0;'));
    expect(loss).toHaveLength(40);
    expect(loss.at(-1)).toBe('epochs: 2; log-loss: 0.0025; series: train, worker 0; epoch: 2');
  });

  it('writes the SVG to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-plot-'));
    try {
      const file = join(dir, 'curves.svg');
      const feed = finishedFeed();
      await writeTrainingPlot(file, feed.snapshot());
      expect(readFileSync(file, 'utf8')).toBe(await trainingPlotSvg(feed.snapshot()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
