import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PsError, PsErrorCode } from '@ps/core';

/**
 * What a complete checkpoint holds, written last (atomically) as `<dir>/checkpoint-<id>.json`:
 * its presence says that every server's file of the checkpoint is on disk.
 */
export interface CheckpointManifest {
  /** The manifest format. */
  format: 1;
  /** The checkpoint's number in its directory, from 1, increasing. */
  id: number;
  /** The run (scheduler's `view.run`) that wrote it. */
  run: string;
  /** The cut: every worker had the pushes of its batches `< batch` acknowledged, and no later one. */
  batch: number;
  /** Each worker's position at the cut, by rank: the next batch it trains (its shard's total once done). */
  positions: Record<string, number>;
  /** The servers' snapshot files, relative to the checkpoint's data directory. */
  files: string[];
  /** Wall-clock ms (`Date.now()`) the manifest was written at. */
  writtenAt: number;
  /** How long the workers were held at the cut, in ms (from the first hold to the release). */
  pauseMs: number;
  /** The longest a server took to copy its table at the cut, in ms (part of `pauseMs`). */
  copyMs: number;
  /** The bytes of the servers' files. */
  bytes: number;
}

/** A checkpoint found in a directory: its manifest and its data directory (absolute). */
export interface FoundCheckpoint {
  manifest: CheckpointManifest;
  dataDir: string;
}

const MANIFEST = /^checkpoint-(\d+)\.json$/;
const DATA = /^checkpoint-(\d+)$/;

/** The data directory of checkpoint `id` (the servers' snapshot files), relative to the checkpoint directory. */
export const checkpointDataName = (id: number) => `checkpoint-${String(id).padStart(6, '0')}`;
/** The manifest file of checkpoint `id`, relative to the checkpoint directory. */
export const checkpointManifestName = (id: number) => `${checkpointDataName(id)}.json`;
/** The marker a job that ended in order leaves: a run of the same command then starts afresh. */
export const FINISHED_NAME = 'finished.json';

/** Parses a manifest; `undefined` for a torn or foreign file. */
function parseManifest(text: string): CheckpointManifest | undefined {
  try {
    const m = JSON.parse(text) as Partial<CheckpointManifest>;
    if (m.format !== 1 || !Number.isInteger(m.id) || !Number.isInteger(m.batch) || !Array.isArray(m.files))
      return undefined;
    return m as CheckpointManifest;
  } catch {
    return undefined;
  }
}

/**
 * The latest complete checkpoint of `dir` to resume from: the highest id whose manifest parses
 * (a torn or missing manifest means that checkpoint is incomplete: the previous one is taken),
 * unless the job that wrote it ended in order after it (`finished.json` names an id at least as
 * high). `undefined` when there is none, or `dir` does not exist.
 * @throws PsError `PS_ERR_CHECKPOINT` when the chosen manifest's data directory is gone.
 */
export async function latestCheckpoint(dir: string): Promise<FoundCheckpoint | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const ids = names
    .map((n) => MANIFEST.exec(n)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  const finished = await readFile(join(dir, FINISHED_NAME), 'utf8')
    .then((t) => Number((JSON.parse(t) as { id?: unknown }).id))
    .catch(() => 0);
  for (const id of ids) {
    if (id <= finished) return undefined;
    const text = await readFile(join(dir, checkpointManifestName(id)), 'utf8').catch(() => '');
    const manifest = parseManifest(text);
    if (!manifest || manifest.id !== id) continue;
    const dataDir = join(dir, checkpointDataName(id));
    const ok = await stat(dataDir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!ok) {
      throw new PsError(
        PsErrorCode.CHECKPOINT,
        `${checkpointManifestName(id)} in ${dir} names ${checkpointDataName(id)}, which is gone: remove the manifest to resume from the previous checkpoint, or empty the directory to start afresh`,
      );
    }
    return { manifest, dataDir };
  }
  return undefined;
}

/** The id the next checkpoint of `dir` takes: above every manifest and data directory there. */
export async function nextCheckpointId(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let max = 0;
  for (const n of names) {
    const m = MANIFEST.exec(n) ?? DATA.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** Writes `text` to `path` atomically: a temp file, fsync, rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** Writes the manifest that makes checkpoint `m.id` complete, atomically. */
export async function writeManifest(dir: string, m: CheckpointManifest): Promise<void> {
  await writeFileAtomic(join(dir, checkpointManifestName(m.id)), `${JSON.stringify(m, null, 2)}\n`);
}

/**
 * Removes every checkpoint of `dir` but the `keep` latest complete ones, and the data directories
 * below the oldest kept id that have no manifest (checkpoints abandoned half-way). Ids at or above
 * `busy` (one being written) are left alone.
 */
export async function pruneCheckpoints(
  dir: string,
  keep = 2,
  busy = Number.POSITIVE_INFINITY,
): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const complete = names
    .map((n) => MANIFEST.exec(n)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  const kept = new Set(complete.slice(0, keep));
  const oldestKept = Math.min(...kept, busy);
  // Manifests first: a crash half-way leaves no manifest naming data that is gone.
  const order = [...names].sort((a, b) => Number(!a.endsWith('.json')) - Number(!b.endsWith('.json')));
  for (const n of order) {
    const m = MANIFEST.exec(n) ?? DATA.exec(n);
    if (!m) continue;
    const id = Number(m[1]);
    if (id >= busy || kept.has(id)) continue;
    if (id < oldestKept || complete.includes(id)) await rm(join(dir, n), { recursive: true, force: true });
  }
}
