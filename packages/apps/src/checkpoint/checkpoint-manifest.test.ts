import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPsError, PsErrorCode } from '@ps/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CheckpointManifest,
  checkpointDataName,
  checkpointManifestName,
  FINISHED_NAME,
  latestCheckpoint,
  nextCheckpointId,
  pruneCheckpoints,
  writeManifest,
} from './checkpoint-manifest.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ps-ckpt-manifest-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifest = (id: number): CheckpointManifest => ({
  format: 1,
  id,
  run: 'run-a',
  batch: id * 10,
  positions: { '0': id * 10 },
  files: ['s.snap'],
  writtenAt: 1000 + id,
  pauseMs: 1,
  copyMs: 0.5,
  bytes: 100,
});

/** Writes a complete checkpoint `id`: its data directory, then its manifest. */
async function complete(id: number): Promise<void> {
  await mkdir(join(dir, checkpointDataName(id)));
  await writeManifest(dir, manifest(id));
}

describe('checkpoint manifests', () => {
  it('an empty or missing directory has no checkpoint; the next id is 1', async () => {
    expect(await latestCheckpoint(dir)).toBeUndefined();
    expect(await latestCheckpoint(join(dir, 'nope'))).toBeUndefined();
    expect(await nextCheckpointId(dir)).toBe(1);
  });

  it('takes the highest complete checkpoint', async () => {
    await complete(1);
    await complete(2);
    const found = await latestCheckpoint(dir);
    expect(found?.manifest).toEqual(manifest(2));
    expect(found?.dataDir).toBe(join(dir, checkpointDataName(2)));
    expect(await nextCheckpointId(dir)).toBe(3);
  });

  it('a checkpoint without its manifest (data half-written) is skipped for the previous one', async () => {
    await complete(1);
    await mkdir(join(dir, checkpointDataName(2)));
    expect((await latestCheckpoint(dir))?.manifest.id).toBe(1);
    // Its id is taken all the same: the next checkpoint does not write into its directory.
    expect(await nextCheckpointId(dir)).toBe(3);
  });

  it('a torn manifest (cut short, or not a manifest) is skipped for the previous one', async () => {
    await complete(1);
    await mkdir(join(dir, checkpointDataName(2)));
    const text = JSON.stringify(manifest(2));
    await writeFile(join(dir, checkpointManifestName(2)), text.slice(0, text.length / 2));
    expect((await latestCheckpoint(dir))?.manifest.id).toBe(1);
    await writeFile(join(dir, checkpointManifestName(2)), '{"format":2}');
    expect((await latestCheckpoint(dir))?.manifest.id).toBe(1);
  });

  it('a manifest whose data directory is gone fails with PS_ERR_CHECKPOINT and says what to do', async () => {
    await complete(1);
    await writeManifest(dir, manifest(2));
    const err = await latestCheckpoint(dir).catch((e: unknown) => e);
    expect(isPsError(err) && err.code).toBe(PsErrorCode.CHECKPOINT);
    expect((err as Error).message).toContain('remove the manifest');
  });

  it('a job that finished after its last checkpoint starts afresh; a later checkpoint is resumed again', async () => {
    await complete(1);
    await complete(2);
    await writeFile(join(dir, FINISHED_NAME), JSON.stringify({ id: 2 }));
    expect(await latestCheckpoint(dir)).toBeUndefined();
    await complete(3);
    expect((await latestCheckpoint(dir))?.manifest.id).toBe(3);
  });

  it('pruning keeps the last 2 complete checkpoints and drops abandoned ones below them', async () => {
    for (const id of [1, 2, 3, 4]) await complete(id);
    await mkdir(join(dir, checkpointDataName(5))); // being written
    await rm(join(dir, checkpointManifestName(1))); // abandoned: data without a manifest
    await pruneCheckpoints(dir, 2, 5);
    expect((await readdir(dir)).sort()).toEqual([
      checkpointDataName(3),
      checkpointManifestName(3),
      checkpointDataName(4),
      checkpointManifestName(4),
      checkpointDataName(5),
    ]);
  });
});
