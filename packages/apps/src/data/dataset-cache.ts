import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SparseDataset } from './dataset.js';

const MAGIC = 0x53445350; // 'PSDS', little-endian
const VERSION = 1;
const HEADER = 32;

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
 * they are in memory (`indptr`, `indices`, `values`, `labels`, then the name). Node.js only.
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
    if (!buf || buf.length < HEADER) return undefined;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) return undefined;
    const rows = dv.getUint32(8, true);
    const nnz = dv.getUint32(12, true);
    const features = dv.getFloat64(16, true);
    const nameBytes = dv.getUint32(24, true);
    const size = HEADER + 4 * (rows + 1) + 8 * nnz + rows + nameBytes;
    if (buf.length !== size) return undefined;
    // Copies into fresh arrays: aligned, and free of the file buffer.
    let at = HEADER;
    const take = <T>(bytes: number, make: (b: ArrayBuffer) => T): T => {
      const out = make(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + bytes));
      at += bytes;
      return out;
    };
    const indptr = take(4 * (rows + 1), (b) => new Int32Array(b));
    const indices = take(4 * nnz, (b) => new Uint32Array(b));
    const values = take(4 * nnz, (b) => new Float32Array(b));
    const labels = take(rows, (b) => new Uint8Array(b));
    const name = buf.toString('utf8', at, at + nameBytes);
    if (indptr[rows] !== nnz) return undefined;
    const now = new Date();
    await utimes(this.fileOf(key), now, now).catch(() => undefined);
    return { name, rows, indptr, indices, values, labels, features };
  }

  /** Stores `ds` under `key` (written to a temporary file, then renamed: readers never see half). */
  async put(key: unknown, ds: SparseDataset): Promise<void> {
    if (!this.enabled) return;
    const name = Buffer.from(ds.name, 'utf8');
    const head = Buffer.alloc(HEADER);
    head.writeUInt32LE(MAGIC, 0);
    head.writeUInt32LE(VERSION, 4);
    head.writeUInt32LE(ds.rows, 8);
    head.writeUInt32LE(ds.indices.length, 12);
    head.writeDoubleLE(ds.features, 16);
    head.writeUInt32LE(name.length, 24);
    const view = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const file = this.fileOf(key);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, [head, view(ds.indptr), view(ds.indices), view(ds.values), view(ds.labels), name]);
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
