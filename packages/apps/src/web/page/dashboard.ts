// The job's dashboard: follows the job's feed (`/events`, Server-Sent Events, from the server this
// page came from) and draws it: the nodes and their states, the ring, the training curves and the
// throughput (Vega-Lite charts, bundled into this page: nothing is fetched from elsewhere).
import { parse, View } from 'vega';
import { compile } from 'vega-lite';
import type { ClusterDigest } from '../../dashboard/cluster-digest.js';
import type { JobSnapshot } from '../../dashboard/job-feed.js';
import { throughputRows, throughputSpec } from '../../dashboard/throughput-spec.js';
import { curveRows, PALETTE, trainingCurvesSpec } from '../../dashboard/training-curves-spec.js';
import { drawRing } from './ring-drawing.js';

declare global {
  interface Window {
    /** The latest snapshot of the job, for people and for tests. */
    psDashboard?: JobSnapshot;
  }
}

const $ = (id: string) => document.getElementById(id)!;
const rate = (x: number | null) =>
  x === null || !Number.isFinite(x) ? '–' : Math.round(x).toLocaleString('en-US');

function setStatus(status: string): void {
  document.body.className = status;
  $('status').textContent = status;
}

function cell(tr: HTMLTableRowElement, text: string, className?: string): void {
  const td = tr.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function renderCluster(c: ClusterDigest): void {
  $('view').textContent = `view ${c.version}, epoch ${c.epoch}, run ${c.run}`;
  const nodes = $('nodes').querySelector('tbody')!;
  nodes.replaceChildren();
  for (const n of c.nodes) {
    const tr = nodes.insertRow();
    tr.dataset.role = n.role;
    tr.dataset.state = n.state;
    tr.dataset.id = n.id;
    cell(tr, n.role);
    cell(tr, String(n.rank), 'num');
    cell(tr, n.id);
    cell(tr, n.port ? `${n.host}:${n.port}` : n.host);
    cell(tr, n.state, `state-${n.state}`);
  }
  const servers = c.nodes.filter((n) => n.role === 'server');
  const colorOf = (id: string) =>
    PALETTE[
      Math.max(
        0,
        servers.findIndex((s) => s.id === id),
      ) % PALETTE.length
    ]!;
  drawRing($('ring') as unknown as SVGSVGElement, c.ranges, colorOf);
  $('ring-caption').textContent =
    `${c.ranges.length} ranges, ${c.replicas} replica${c.replicas === 1 ? '' : 's'} each, ring version ${c.ringVersion}`;
  const table = $('ring-servers').querySelector('tbody')!;
  table.replaceChildren();
  for (const s of servers) {
    const mine = c.ranges.filter((r) => r.chain[0] === s.id);
    const share = mine.reduce((a, r) => a + (r.end - r.begin), 0);
    const replica = c.ranges.filter((r) => r.chain.indexOf(s.id) > 0).length;
    const tr = table.insertRow();
    tr.dataset.server = s.id;
    tr.dataset.ranges = String(mine.length);
    tr.dataset.share = String(share);
    const name = tr.insertCell();
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colorOf(s.id);
    name.append(swatch, `server ${s.rank} (${s.id})`);
    cell(tr, String(mine.length), 'num');
    cell(tr, `${(share * 100).toFixed(1)}%`, 'num');
    cell(tr, String(replica), 'num');
  }
}

/** A Vega view on a named data set, updated one change at a time (the latest wins). */
function chart(container: string, spec: Parameters<typeof compile>[0], data: string) {
  const view = new View(parse(compile(spec).spec), { renderer: 'svg', container, hover: false });
  let running: Promise<unknown> = view.runAsync();
  let next: unknown[] | undefined;
  return (rows: unknown[]) => {
    const idle = next === undefined;
    next = rows;
    if (!idle) return running;
    running = running.then(async () => {
      const values = next!;
      next = undefined;
      view.data(data, values);
      await view.runAsync();
    });
    return running;
  };
}

/** The charts, made at the first snapshot (their colours need the number of workers). */
let charts: Record<'curves' | 'throughput', (rows: unknown[]) => Promise<unknown>> | undefined;

function render(s: JobSnapshot): void {
  window.psDashboard = s;
  setStatus(s.status);
  const j = s.job;
  $('job').textContent =
    `${j.dataset} on ${j.servers} servers and ${j.workers} workers over ${j.transport}${j.epochs ? `, ${j.epochs} epochs` : ''}${s.killed.length ? `; killed: ${s.killed.map((k) => k.role).join(', ')}` : ''}`;
  $('error').textContent = s.error ?? '';
  $('examples-per-sec').textContent = rate(s.throughput.examplesPerSec);
  $('keys-pushed-per-sec').textContent = rate(s.throughput.keysPushedPerSec);
  $('keys-pulled-per-sec').textContent = rate(s.throughput.keysPulledPerSec);
  if (s.summary) {
    $('final-accuracy').textContent = String(s.summary.accuracy);
    $('final-logloss').textContent = String(s.summary.logloss);
    $('final-auc').textContent = String(s.summary.auc);
  }
  if (s.cluster) renderCluster(s.cluster);
  // JSON carries NaN as null: the rows take numbers only.
  const training = s.training.map((p) => ({
    ...p,
    loss: p.loss ?? Number.NaN,
    accuracy: p.accuracy ?? Number.NaN,
    keysPushedPerSec: p.keysPushedPerSec ?? Number.NaN,
    keysPulledPerSec: p.keysPulledPerSec ?? Number.NaN,
  }));
  charts ??= {
    curves: chart(
      '#curves-chart',
      trainingCurvesSpec({ workers: j.workers, width: 520, height: 170 }),
      'curves',
    ),
    throughput: chart(
      '#throughput-chart',
      throughputSpec({ workers: j.workers, width: 520, height: 130 }),
      'throughput',
    ),
  };
  const rows = curveRows(training, s.heldOut);
  const tput = throughputRows(training);
  void charts.curves(rows).then(() => {
    ($('curves') as HTMLElement).dataset.points = String(rows.filter((r) => r.metric === 'log-loss').length);
  });
  void charts.throughput(tput).then(() => {
    ($('throughput') as HTMLElement).dataset.points = String(tput.length);
  });
}

function follow(): void {
  const source = new EventSource('events');
  let ended = false;
  source.addEventListener('snapshot', (ev) => {
    const s = JSON.parse((ev as MessageEvent<string>).data) as JobSnapshot;
    if (document.body.dataset.first === undefined) document.body.dataset.first = s.status;
    render(s);
    if (s.status === 'done' || s.status === 'failed') {
      ended = true;
      source.close();
    }
  });
  source.addEventListener('error', () => {
    if (ended) return;
    // The server is gone (the job ended before it could say so) or serves no job.
    if (source.readyState === EventSource.CLOSED || !window.psDashboard) {
      source.close();
      setStatus('disconnected');
      $('error').textContent = window.psDashboard
        ? 'lost the connection to the job'
        : 'no job here: start one with `pskv slr --serve`, or `pskv serve --job URL` to show a running one';
    }
  });
}

follow();
