// The figure of docs/consistency.md, after the paper's Figure 13: the IMDB job with a straggler,
// once per consistency mode: `sync` (aggregation on the servers, where the job has it), bounded
// delay τ in {0, 1, 2, 4, 8}, and `eventual`: the workers' idle fraction and the time worker 0 took
// to reach a target test accuracy, with the largest gap between the workers (`max_staleness`).
// Runs `ps slr` once per mode (about 20 s each on 2 quiet cores). A mode the job refuses (exit 2,
// e.g. `sync` before the job has it) is skipped with a note.
// Usage: node packages/apps/scripts/consistency-figure.mjs [--modes sync,0,1,2,4,8,eventual]
//   [--straggler 4] [--target 0.91] [--dataset imdb] [--out docs/consistency.svg]
// A number in --modes is bounded delay with that τ. Writes the SVG and prints one JSON line per run.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    modes: { type: 'string', default: 'sync,0,1,2,4,8,eventual' },
    straggler: { type: 'string', default: '4' },
    target: { type: 'string', default: '0.91' },
    dataset: { type: 'string', default: 'imdb' },
    out: { type: 'string', default: 'docs/consistency.svg' },
  },
});
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const target = Number(values.target);
/** A mode's `ps slr` options and its label in the figure. */
const modeOf = (m) =>
  /^\d+$/.test(m)
    ? { label: `τ ${m}`, args: ['--consistency', 'bounded', '--tau', m] }
    : m === 'eventual'
      ? { label: 'τ ∞', args: ['--consistency', 'eventual'] }
      : { label: m, args: ['--consistency', m] };
const rows = [];
for (const mode of values.modes.split(',').map((m) => m.trim())) {
  const { label, args } = modeOf(mode);
  let out;
  try {
    out = execFileSync(
      process.execPath,
      [
        cli,
        'slr',
        '--dataset',
        values.dataset,
        ...args,
        // The figure's batches: 64 rows, the job's default when it was made (now 256).
        '--batch-size',
        '64',
        '--straggler',
        values.straggler,
        '--eval-every',
        '25',
        '--json',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 },
    );
  } catch (err) {
    if (err.status !== 2) throw err;
    const why = String(err.stderr ?? '')
      .trim()
      .split('\n')[0];
    process.stderr.write(`skipped ${mode}: the job refuses it (${why})\n`);
    process.stdout.write(`${JSON.stringify({ mode, skipped: why })}\n`);
    continue;
  }
  const s = JSON.parse(out.trim().split('\n').at(-1));
  const hit = s.evals.find((e) => e.accuracy >= target);
  const row = {
    mode,
    label,
    worker_idle_fraction: s.worker_idle_fraction,
    max_staleness: s.max_staleness,
    seconds_to_target: hit ? hit.seconds : null,
    train_seconds: s.train_seconds,
    accuracy: s.accuracy,
    auc: s.auc,
  };
  rows.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

// Two bar charts side by side, as plain SVG.
const W = 860;
const H = 300;
const panel = (x0, title, values, max, fmt, color) => {
  const pw = 380;
  const ph = 200;
  const bw = pw / values.length - 12;
  const bars = values
    .map((v, i) => {
      const x = x0 + 40 + i * (bw + 12);
      const h = v === null ? 0 : (v / max) * ph;
      const y = 50 + ph - h;
      const label = v === null ? 'n/a' : fmt(v);
      return (
        `<rect x="${x}" y="${y}" width="${bw}" height="${h}" fill="${color}"/>` +
        `<text x="${x + bw / 2}" y="${y - 4}" font-size="11" text-anchor="middle">${label}</text>` +
        `<text x="${x + bw / 2}" y="${50 + ph + 16}" font-size="12" text-anchor="middle">${rows[i].label}</text>`
      );
    })
    .join('');
  return (
    `<text x="${x0 + 40 + pw / 2}" y="30" font-size="14" text-anchor="middle">${title}</text>` +
    `<line x1="${x0 + 34}" y1="${50 + ph}" x2="${x0 + 40 + pw}" y2="${50 + ph}" stroke="#333"/>` +
    `<text x="${x0 + 40 + pw / 2}" y="${50 + ph + 34}" font-size="12" text-anchor="middle">consistency (bounded delay τ in batches)</text>` +
    bars
  );
};
const idle = rows.map((r) => r.worker_idle_fraction);
const secs = rows.map((r) => r.seconds_to_target);
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<title>Worker idle fraction and seconds to test accuracy ${target} for each consistency mode, with a straggler</title>
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'worker idle fraction', idle, Math.max(...idle) * 1.15, (v) => `${Math.round(v * 100)}%`, '#4a7bb7')}
${panel(430, `seconds to test accuracy ${target}`, secs, Math.max(...secs.filter((v) => v !== null)) * 1.15, (v) => v.toFixed(1), '#c0504d')}
</svg>
`;
writeFileSync(values.out, svg);
process.stderr.write(`wrote ${values.out}\n`);
