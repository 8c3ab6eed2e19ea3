import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SparseDataset } from './dataset.js';
import { decodeSparseDataset, encodeSparseDataset } from './sparse-dataset-codec.js';

/**
 * Where {@link DatasetCache} keeps its files by default: `$PS_CACHE_DIR`, else `ps-cache` in the
 * system's temporary folder. Nothing there is needed: a missing or damaged file is rebuilt.
 */
export function defaultCacheDir(): string {
  return process.env.PS_CACHE_DIR || join(tmpdir(), 'ps-cache');
}

/**
 * Hashed or parsed data sets on disk, so that a worker that hashes a shard once reads it back on
 * the next run: one binary file per key (a SHA-256 of the key's JSON), holding the CSR arrays as
 * they are in memory (`encodeSparseDataset`'s form). Node.js only.
 *
 * Every failure to read (no file, a damaged or foreign one) is a miss, and every failure to
 * write is ignored: the cache only saves time. `PS_CACHE_DIR=off` turns it off. The folder is
 * kept under `maxBytes` (default 2 GiB): after each write the least recently used files (a
 * read marks a file used) are deleted until the rest fit.
 */
export class DatasetCache {
  constructor(
    readonly dir: string = defaultCacheDir(),
    readonly maxBytes: number = 2 * 1024 ** 3,
  ) {}

  /** Whether caching is on (`PS_CACHE_DIR` is not `off`). */
  get enabled(): boolean {
    return this.dir !== 'off';
  }

  /** The file of `key` (any JSON-serialisable value naming the data and how it was made). */
  fileOf(key: unknown): string {
    const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 32);
    return join(this.dir, `${hash}.psds`);
  }

  /** The data set stored under `key`, or undefined. */
  async get(key: unknown): Promise<SparseDataset | undefined> {
    if (!this.enabled) return undefined;
    const buf = await readFile(this.fileOf(key)).catch(() => undefined);
    const ds = buf && decodeSparseDataset(buf);
    if (!ds) return undefined;
    const now = new Date();
    await utimes(this.fileOf(key), now, now).catch(() => undefined);
    return ds;
  }

  /** Stores `ds` under `key` (written to a temporary file, then renamed: readers never see half). */
  async put(key: unknown, ds: SparseDataset): Promise<void> {
    if (!this.enabled) return;
    const file = this.fileOf(key);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, encodeSparseDataset(ds));
      await rename(tmp, file);
      await this.prune();
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /** Deletes the least recently used files until the folder holds at most `maxBytes`. */
  private async prune(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.psds'));
    const files = await Promise.all(
      names.map(async (n) => {
        const st = await stat(join(this.dir, n)).catch(() => undefined);
        return { path: join(this.dir, n), size: st?.size ?? 0, used: st?.mtimeMs ?? 0 };
      }),
    );
    let total = files.reduce((a, f) => a + f.size, 0);
    files.sort((a, b) => a.used - b.used);
    for (const f of files) {
      if (total <= this.maxBytes) break;
      await rm(f.path, { force: true }).catch(() => undefined);
      total -= f.size;
    }
  }
}
