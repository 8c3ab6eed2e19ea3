import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scheduler } from '@ps/core';
import { FINISHED_NAME, nextCheckpointId, pruneCheckpoints, writeFileAtomic } from './checkpoint-manifest.js';
import { takeCheckpoint } from './take-checkpoint.js';

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
