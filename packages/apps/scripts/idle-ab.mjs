// Interleaved A/B runs of the `pskv slr` job (docs/apps/sparse-logistic-regression.md, "Idle
// workers"): each round runs every variant once, in turn, and prints one JSON line per run with
// the job's training seconds, test accuracy and the workers' idle fraction, and the CPU seconds
// (user + system, from /proc while the role runs) of each role. On a machine shared with other
// jobs compare variants by their ratios within a round, not by their seconds.
// Usage: node packages/apps/scripts/idle-ab.mjs [--rounds 3] --variant 'A=' --variant 'B=--batch-size 128'
// A variant is `label=<pskv slr options>`; every run adds `--json`. Linux only (/proc).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true, default: ['base='] },
  },
});
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const variants = values.variant.map((v) => {
  const at = v.indexOf('=');
  const args = v
    .slice(at + 1)
    .split(/\s+/)
    .filter(Boolean);
  // `label=@other/cli.js --options`: that build of the CLI (another branch's dist, copied aside).
  const script = args[0]?.startsWith('@') ? args.shift().slice(1) : cli;
  return { label: v.slice(0, at), script, args };
});
for (const v of variants) process.stderr.write(`${v.label}: ${v.script} slr ${v.args.join(' ')}\n`);
const TICK = 100; // USER_HZ of /proc/<pid>/stat on Linux

/** CPU seconds (utime + stime) of a live process, or undefined once it is gone. */
function cpuOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return undefined;
  }
}

function runOnce(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'slr', ...args, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const roles = new Map(); // pid -> { role, cpu }
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
      const m = /processes: (.*)/.exec(err);
      if (m && roles.size === 0)
        for (const [, role, pid] of m[1].matchAll(/([^,]+?) (\d+)(?:,|$)/g))
          roles.set(Number(pid), { role: role.trim(), cpu: 0 });
    });
    // Bounded: the job's own --timeout (default 3,600 s) ends it; polling stops with the child.
    const poll = setInterval(() => {
      for (const [pid, r] of roles) r.cpu = cpuOf(pid) ?? r.cpu;
    }, 50);
    child.on('close', (code) => {
      clearInterval(poll);
      if (code !== 0)
        return reject(new Error(`pskv slr ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      const s = JSON.parse(out.trim().split('\n').at(-1));
      const cpu = {};
      for (const r of roles.values()) cpu[r.role] = Math.round(r.cpu * 100) / 100;
      resolve({ s, cpu });
    });
  });
}

for (let round = 1; round <= Number(values.rounds); round++) {
  for (const v of variants) {
    const { s, cpu } = await runOnce(v.args);
    const sum = (re) =>
      Object.entries(cpu)
        .filter(([k]) => re.test(k))
        .reduce((a, [, c]) => a + c, 0);
    const servers = sum(/server/);
    const workers = sum(/worker/);
    process.stdout.write(
      `${JSON.stringify({
        round,
        variant: v.label,
        train_seconds: s.train_seconds,
        seconds: s.seconds,
        accuracy: s.accuracy,
        worker_idle_fraction: s.worker_idle_fraction,
        cpu_servers: Math.round(servers * 100) / 100,
        cpu_workers: Math.round(workers * 100) / 100,
        server_cpu_share: Math.round((servers / (servers + workers)) * 1000) / 1000,
        bytes_sent: s.bytes_sent,
        cpu,
      })}\n`,
    );
  }
}
