import { PsError, PsErrorCode } from '@ps/core';
import type { SlrConfig } from '../slr/slr-config.js';

/**
 * Checks the checkpoint options of a job.
 * @throws PsError `PS_ERR_CHECKPOINT` for `checkpointEvery` without `checkpointDir`, a negative
 *   period, or checkpoints in sync mode (whose iterations the servers count: a cut between them is
 *   not supported).
 */
export function checkCheckpointConfig(
  c: Pick<SlrConfig, 'checkpointDir' | 'checkpointEvery' | 'consistency'>,
): void {
  if (!Number.isFinite(c.checkpointEvery) || c.checkpointEvery < 0)
    throw new PsError(
      PsErrorCode.CHECKPOINT,
      `--checkpoint-every must be a positive number of seconds, got ${c.checkpointEvery}`,
    );
  if (c.checkpointEvery > 0 && !c.checkpointDir)
    throw new PsError(
      PsErrorCode.CHECKPOINT,
      '--checkpoint-every needs --checkpoint-dir DIR: the directory the checkpoints go to',
    );
  if (c.checkpointDir && c.consistency === 'sync')
    throw new PsError(
      PsErrorCode.CHECKPOINT,
      '--checkpoint-dir does not work with --consistency sync; use sequential, bounded or eventual',
    );
}
