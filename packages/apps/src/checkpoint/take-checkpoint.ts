import type { Scheduler, TaskResults } from '@ps/core';
import { type CheckpointManifest, writeManifest } from './checkpoint-manifest.js';
import { CKPT_TASKS } from './worker-checkpoint-hold.js';

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
