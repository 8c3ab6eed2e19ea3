import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scheduler, TaskResults } from '@ps/core';
import {
  type CheckpointManifest,
  FINISHED_NAME,
  nextCheckpointId,
  pruneCheckpoints,
  writeFileAtomic,
  writeManifest,
} from './checkpoint-manifest.js';
import { CKPT_TASKS } from './worker-checkpoint-hold.js';

/** Options of {@link runCheckpoints}. */
export interface RunCheckpointsOptions {
  /** The checkpoint directory (shared by every role). */
  dir: string;
  /** Seconds between the end of one checkpoint and the start of the next (the first: after the cluster filled). */
  everySeconds: number;
  /** How many complete checkpoints are kept. Default 2. */
  keep?: number;
  /** Where a line per checkpoint goes. Default: stderr. */
  log?: (line: string) => void;
}

const values = (r: TaskResults) => Object.values(r) as Record<string, number>[];

/**
 * Takes one consistent checkpoint with the scheduler's tasks (see docs/checkpoints.md): hold every
 * worker at its next batch (`ckpt-propose`, once `ckpt-ready` found every worker training), move the hold to the largest of them, the cut, and wait
 * for every push before it (`ckpt-reach`), copy the servers' tables (`ckpt-copy`), release the workers
 * (`ckpt-resume`), wait for the files (`ckpt-flush`), and write the manifest last. The workers are
 * released whatever fails. Resolves with the manifest, or `undefined` when a step failed (no
 * manifest is written: the checkpoint does not count).
 */
export async function takeCheckpoint(
  s: Scheduler,
  dir: string,
  id: number,
): Promise<CheckpointManifest | undefined> {
  const t = s.tasks;
  // Every worker has its executors (it is training), or the round is skipped with no one held.
  const ready = await t.wait(t.issue({ name: CKPT_TASKS.ready, to: 'workers' })).catch(() => undefined);
  if (!ready) return undefined;
  let manifest: CheckpointManifest | undefined;
  const propose = t.issue({ name: CKPT_TASKS.propose, to: 'workers' });
  let pauseMs = 0;
  try {
    const proposals = values(await t.wait(propose));
    const batch = Math.max(...proposals.map((p) => p.batch!));
    const reach = t.issue({ name: CKPT_TASKS.reach, to: 'workers', args: { batch } });
    const positions: Record<string, number> = {};
    for (const p of values(await t.wait(reach))) positions[String(p.rank)] = p.batch!;
    const copy = t.issue({ name: CKPT_TASKS.copy, to: 'servers', args: { id } });
    const copyMs = Math.max(0, ...values(await t.wait(copy)).map((r) => r.copyMs ?? 0));
    const resume = t.issue({ name: CKPT_TASKS.resume, to: 'workers' });
    const flush = t.issue({ name: CKPT_TASKS.flush, to: 'servers', args: { id } });
    const resumed = values(await t.wait(resume));
    pauseMs = Math.max(0, ...resumed.map((r) => r.heldMs ?? 0));
    // A worker that went on by itself before the copy made the cut void.
    if (resumed.some((r) => (r as { selfReleased?: boolean }).selfReleased)) return undefined;
    const flushed = await t.wait(flush);
    const files = values(flushed).map((r) => (r as unknown as { file: string }).file);
    manifest = {
      format: 1,
      id,
      run: s.currentView?.run ?? '',
      batch,
      positions,
      files: files.sort(),
      writtenAt: Date.now(),
      pauseMs: Math.round(pauseMs * 10) / 10,
      copyMs: Math.round(copyMs * 10) / 10,
      bytes: values(flushed).reduce((n, r) => n + (r.bytes ?? 0), 0),
    };
    await writeManifest(dir, manifest);
    return manifest;
  } catch {
    return undefined;
  } finally {
    // A failed step must not leave a worker held (a resume to a released worker does nothing).
    if (!manifest) {
      try {
        await t.wait(t.issue({ name: CKPT_TASKS.resume, to: 'workers' }));
      } catch {
        // No live worker left, or one died: nothing to release.
      }
    }
  }
}

/**
 * The scheduler's periodic checkpoints (`--checkpoint-every SECONDS`): one every `everySeconds`
 * until the scheduler terminates, keeping the last `keep` (older ones are pruned once a new one is
 * complete). Each complete checkpoint logs a line (`checkpoint <id> at batch <b>: ...`). Once the job
 * ended in order, `finished.json` names the last checkpoint, so that the same command run again
 * starts afresh instead of resuming (see {@link latestCheckpoint}).
 */
export async function runCheckpoints(s: Scheduler, opts: RunCheckpointsOptions): Promise<void> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  await mkdir(opts.dir, { recursive: true });
  let ended = false;
  let failed = false;
  void s.terminated.then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
      failed = true;
    },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      wake = r;
      timer = setTimeout(r, ms);
    });
  void s.terminated.finally(() => {
    clearTimeout(timer);
    wake?.();
  });
  let last = 0;
  while (!ended) {
    await sleep(opts.everySeconds * 1000);
    if (ended || !s.currentView || s.currentView.workers.length === 0) continue;
    const id = await nextCheckpointId(opts.dir);
    const t0 = performance.now();
    const m = await takeCheckpoint(s, opts.dir, id).catch(() => undefined);
    if (!m) continue;
    last = m.id;
    await pruneCheckpoints(opts.dir, opts.keep ?? 2).catch(() => undefined);
    log(
      `ps-scheduler: checkpoint ${m.id} at batch ${m.batch}: workers held ${m.pauseMs} ms (tables copied in ${m.copyMs} ms), ${m.bytes} bytes, complete after ${Math.round(performance.now() - t0)} ms`,
    );
  }
  // The job ended (the scheduler terminates once every worker finalized): mark the newest id done.
  const done = Math.max(last, (await nextCheckpointId(opts.dir)) - 1);
  if (!failed && done > 0)
    await writeFileAtomic(join(opts.dir, FINISHED_NAME), `${JSON.stringify({ id: done, at: Date.now() })}\n`);
}
