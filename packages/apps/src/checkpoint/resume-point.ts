import type { SlrConfig } from '../slr/slr-config.js';
import { type FoundCheckpoint, latestCheckpoint } from './checkpoint-manifest.js';

/**
 * Where a role of the job starts (see docs/checkpoints.md): the latest complete checkpoint of
 * `cfg.checkpointDir` that no job finished after, or `undefined` (a fresh start: no directory, no
 * complete checkpoint, or the job that wrote them ended in order). Says so on stderr as `who`
 * (`ps-worker: resuming from checkpoint 3 (batch 120, run …)`), so that a restart can be told from
 * a fresh start.
 * @throws PsError `PS_ERR_CHECKPOINT` when the manifest chosen names data that is gone.
 */
export async function resumePoint(
  cfg: Pick<SlrConfig, 'checkpointDir'>,
  who: string,
): Promise<FoundCheckpoint | undefined> {
  if (!cfg.checkpointDir) return undefined;
  const found = await latestCheckpoint(cfg.checkpointDir);
  if (found) {
    const m = found.manifest;
    process.stderr.write(`${who}: resuming from checkpoint ${m.id} (batch ${m.batch}, run ${m.run})\n`);
  }
  return found;
}
