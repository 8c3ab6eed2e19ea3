// The figure of docs/consistency.md, after the paper's Figure 13: the IMDB job with a straggler,
// for bounded delay τ in {0, 1, 2, 4, 8, 16}: the workers' idle fraction and the time worker 0
// took to reach a target test accuracy. Runs `ps slr` once per τ (about 20 s each on 2 cores).
// Usage: node packages/apps/scripts/consistency-figure.mjs [--straggler 4] [--target 0.91] [--dataset imdb]
// Writes docs/consistency.svg and prints one JSON line per run.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    straggler: { type: 'string', default: '4' },
    target: { type: 'string', default: '0.91' },
    dataset: { type: 'string', default: 'imdb' },
    out: { type: 'string', default: 'docs/consistency.svg' },
  },
});
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const target = Number(values.target);
const taus = [0, 1, 2, 4, 8, 16];
const rows = [];
for (const tau of taus) {
  const out = execFileSync(
    process.execPath,
    [
      cli,
      'slr',
      '--dataset',
      values.dataset,
      '--consistency',
      'bounded',
      '--tau',
      String(tau),
      '--straggler',
      values.straggler,
      '--eval-every',
      '25',
      '--json',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 900_000 },
  );
  const s = JSON.parse(out.trim().split('\n').at(-1));
  const hit = s.evals.find((e) => e.accuracy >= target);
  const row = {
    tau,
    worker_idle_fraction: s.worker_idle_fraction,
    seconds_to_target: hit ? hit.seconds : null,
    train_seconds: s.train_seconds,
    accuracy: s.accuracy,
    auc: s.auc,
  };
  rows.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

// Two bar charts side by side, as plain SVG.
const W = 760;
const H = 300;
const panel = (x0, title, values, max, fmt, color) => {
  const pw = 330;
  const ph = 200;
  const bw = pw / values.length - 14;
  const bars = values
    .map((v, i) => {
      const x = x0 + 40 + i * (bw + 14);
      const h = v === null ? 0 : (v / max) * ph;
      const y = 50 + ph - h;
      const label = v === null ? 'n/a' : fmt(v);
      return (
        `<rect x="${x}" y="${y}" width="${bw}" height="${h}" fill="${color}"/>` +
        `<text x="${x + bw / 2}" y="${y - 4}" font-size="11" text-anchor="middle">${label}</text>` +
        `<text x="${x + bw / 2}" y="${50 + ph + 16}" font-size="12" text-anchor="middle">${taus[i]}</text>`
      );
    })
    .join('');
  return (
    `<text x="${x0 + 40 + pw / 2}" y="30" font-size="14" text-anchor="middle">${title}</text>` +
    `<line x1="${x0 + 34}" y1="${50 + ph}" x2="${x0 + 40 + pw}" y2="${50 + ph}" stroke="#333"/>` +
    `<text x="${x0 + 40 + pw / 2}" y="${50 + ph + 34}" font-size="12" text-anchor="middle">bounded delay τ (batches)</text>` +
    bars
  );
};
const idle = rows.map((r) => r.worker_idle_fraction);
const secs = rows.map((r) => r.seconds_to_target);
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<title>Worker idle fraction and seconds to test accuracy ${target} against bounded delay τ, with a straggler</title>
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'worker idle fraction', idle, Math.max(...idle) * 1.15, (v) => `${Math.round(v * 100)}%`, '#4a7bb7')}
${panel(380, `seconds to test accuracy ${target}`, secs, Math.max(...secs.filter((v) => v !== null)) * 1.15, (v) => v.toFixed(1), '#c0504d')}
</svg>
`;
writeFileSync(values.out, svg);
process.stderr.write(`wrote ${values.out}\n`);
