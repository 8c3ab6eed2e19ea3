// Periodic checkpoints for restarts: a job over real TCP (a scheduler, 2 servers, 2 workers, each
// its own process) takes a consistent checkpoint every second; the whole cluster is SIGKILLed by
// pid once one is complete, the same command is run again with the same directory (as JobSet
// recreates every pod), it resumes from that checkpoint and ends with the accuracy of a run that
// was never interrupted.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));

afterEach(killAll);

const args = (dir: string, workers: number, epochs: number) => [
  'slr',
  '--dataset',
  'spam',
  '--epochs',
  String(epochs),
  '--servers',
  '2',
  '--workers',
  String(workers),
  '--consistency',
  'sequential',
  '--checkpoint-dir',
  dir,
  // Batches of 64 and a checkpoint every 0.25 s: several checkpoints before the job ends, even on
  // a quiet machine (batches of 256 train these epochs in about a second).
  '--batch-size',
  '64',
  '--checkpoint-every',
  '0.25',
  '--json',
];

/** Waits, polling the file system at most `ms`, until `path` exists. */
async function waitForFile(path: string, p: Proc, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; i < ms / 50 && Date.now() < end; i++) {
    if (existsSync(path)) return;
    if (p.child.exitCode !== null) throw new Error(`the job exited before ${path}: ${p.stderr.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} did not appear within ${ms} ms; stderr: ${p.stderr.join('\n')}`);
}

/** The role pids the launcher lists on stderr (`processes: ps-scheduler 123, ps-server (1/2) 124, ...`). */
async function rolePids(p: Proc, count: number): Promise<number[]> {
  for (let i = 0; i < 600; i++) {
    const line = p.stderr.find((l) => l.startsWith('processes: '));
    if (line) {
      const pids = [...line.matchAll(/ (\d+)(?=,|$)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(count);
      return pids;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no processes line; stderr: ${p.stderr.join('\n')}`);
}

const summaryOf = (p: Proc) =>
  JSON.parse(p.lines.find((l) => l.startsWith('{'))!) as { accuracy: number; logloss: number };

describe('checkpoints', () => {
  // Two workers: their pushes reach the servers in either order, so the accuracy is the same to
  // 0.01. One worker under sequential consistency is deterministic: the same to the last digit.
  it.each([
    { workers: 2, epochs: 5, exact: false },
    { workers: 1, epochs: 4, exact: true },
  ])(
    'a cluster of $workers worker(s) killed whole resumes from its latest complete checkpoint to the same accuracy',
    async ({ workers, epochs, exact }) => {
      const dir = await mkdtemp(join(tmpdir(), 'ps-ckpt-'));
      const ref = await mkdtemp(join(tmpdir(), 'ps-ckpt-ref-'));
      try {
        // The uninterrupted run, with the same config (its checkpoints too, in a directory of its own).
        const whole = spawnNode(cli, {}, args(ref, workers, epochs));
        expect(await exitCode(whole, 120_000)).toBe(0);
        const expected = summaryOf(whole);

        const first = spawnNode(cli, {}, args(dir, workers, epochs));
        const pids = await rolePids(first, 3 + workers);
        await waitForFile(join(dir, 'checkpoint-000002.json'), first);
        for (const pid of [first.pid, ...pids]) process.kill(pid, 'SIGKILL');
        await first.exit;
        // Every role is gone (a signal 0 to a dead pid throws ESRCH), bounded in time.
        for (const pid of pids) {
          for (let i = 0; i < 200; i++) {
            try {
              process.kill(pid, 0);
            } catch {
              break;
            }
            await new Promise((r) => setTimeout(r, 25));
          }
          expect(() => process.kill(pid, 0)).toThrow();
        }
        const manifest = JSON.parse(await readFile(join(dir, 'checkpoint-000002.json'), 'utf8')) as {
          id: number;
          batch: number;
          files: string[];
        };
        expect(manifest.files).toHaveLength(2);
        expect(manifest.batch).toBeGreaterThan(0);

        const again = spawnNode(cli, {}, args(dir, workers, epochs));
        expect(await exitCode(again, 120_000)).toBe(0);
        const resumed = again.stderr.filter((l) =>
          /^ps-(scheduler|server|worker): resuming from checkpoint (\d+)/.test(l),
        );
        // All the roles resumed from one checkpoint, at least the one waited for.
        expect(resumed).toHaveLength(3 + workers);
        const ids = new Set(resumed.map((l) => Number(/checkpoint (\d+)/.exec(l)![1])));
        expect(ids.size).toBe(1);
        expect([...ids][0]).toBeGreaterThanOrEqual(2);
        const got = summaryOf(again);
        if (exact) expect([got.accuracy, got.logloss]).toEqual([expected.accuracy, expected.logloss]);
        else expect(Math.abs(got.accuracy - expected.accuracy)).toBeLessThanOrEqual(0.01);
        // The job ended in order: the same command run again starts afresh.
        expect(JSON.parse(await readFile(join(dir, 'finished.json'), 'utf8')).id).toBeGreaterThanOrEqual(2);
      } finally {
        await rm(dir, { recursive: true, force: true });
        await rm(ref, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
