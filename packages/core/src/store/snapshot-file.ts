import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isPsError, PsErrorCode } from '../errors.js';
import {
  type DecodedSnapshot,
  decodeSnapshotMeta,
  decodeTableRange,
  type SnapshotMeta,
} from './table-snapshot.js';

/**
 * Writes snapshot parts (from `encodeTableRange`) to `path` atomically: the bytes go to a
 * temporary file `<path>.tmp-<pid>-<random>` beside it, which is fsynced and then renamed over
 * `path`; the directory is then fsynced (best effort: some platforms cannot). A reader of `path`
 * therefore sees the old file (or none) or the whole new one, never part of it, even across a
 * crash. A failed write removes its temporary file; a crash can leave one behind, which
 * {@link readSnapshot} never reads (delete `*.tmp-*` files at leisure).
 * @param path target file; its directory must exist.
 * @param parts the bytes, written one after another.
 * @returns a promise that resolves once the file is renamed into place.
 * @throws the `fs` error (e.g. `ENOENT`, `EACCES`, `ENOSPC`) when writing, syncing or renaming
 *   fails; `path` is then unchanged.
 */
export async function writeSnapshot(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx');
    try {
      for (const part of parts) {
        let off = 0;
        while (off < part.byteLength) {
          const { bytesWritten } = await fh.write(part, off, part.byteLength - off);
          if (bytesWritten <= 0) throw new Error(`writing ${tmp} made no progress`);
          off += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/** Fsyncs a directory so that a rename in it is durable; ignored where unsupported (Windows). */
async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort: the rename itself already happened.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Reads and decodes a snapshot written by {@link writeSnapshot}.
 * @returns the decoded snapshot; its arrays are views of one freshly read buffer.
 * @throws the `fs` error when the file cannot be read (`ENOENT` when there is no snapshot yet);
 *   PsError `PS_ERR_SNAPSHOT` when its content is not a whole, valid snapshot.
 */
export async function readSnapshot(path: string): Promise<DecodedSnapshot> {
  const buf = await readFile(path);
  return decodeTableRange(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
}

/**
 * Reads only the meta of a snapshot file (app, handler, set): its header, not its data.
 * @throws the `fs` error when the file cannot be read; PsError `PS_ERR_SNAPSHOT` when it does not
 *   start a valid snapshot.
 */
export async function readSnapshotMeta(path: string): Promise<SnapshotMeta> {
  const fh = await open(path, 'r');
  try {
    let want = 4096;
    for (let attempt = 0; attempt < 3; attempt++) {
      const buf = new Uint8Array(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      try {
        return decodeSnapshotMeta(buf.subarray(0, bytesRead));
      } catch (err) {
        const need = isPsError(err, PsErrorCode.SNAPSHOT)
          ? (err.details?.need as number | undefined)
          : undefined;
        if (need === undefined || need <= bytesRead || bytesRead < want) throw err;
        want = need;
      }
    }
    return decodeSnapshotMeta(new Uint8Array(0));
  } finally {
    await fh.close();
  }
}
