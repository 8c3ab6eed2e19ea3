import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PsError, PsErrorCode } from './errors.js';
import { KEY_SPACE_END } from './key-range.js';
import type { KVServer } from './kv-server.js';
import type { KVTable } from './kv-table.js';
import { readSnapshot, writeSnapshot } from './snapshot-file.js';
import { encodeTableRange } from './table-snapshot.js';

const ALL = [{ begin: 0n, end: KEY_SPACE_END }];

function tableOf(server: KVServer): KVTable {
  const table = server.table;
  if (!table) {
    throw new PsError(
      PsErrorCode.SNAPSHOT,
      `app ${server.app} has no table to snapshot; use a built-in handler or one made with tableHandler`,
    );
  }
  return table;
}

/**
 * Writes everything a server holds for one app (its ranges and its replicas' ranges: every key
 * of its table, with every state slab) to `<dir>/<node id>.app<app>.snap`, atomically (a temp
 * file, fsync, rename): a crash leaves the previous snapshot or the new one, never a torn file.
 * Resolves with the file's path. Node only (`@ps/core/node`).
 * @throws PsError `PS_ERR_SNAPSHOT` for a handler without a table; file system errors as they come.
 */
export async function snapshotServer(server: KVServer, dir: string): Promise<string> {
  const table = tableOf(server);
  const data = table.exportRanges(ALL);
  const parts = encodeTableRange(data, { app: server.app, handler: server.handlerName }, ALL);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${server.node.id}.app${server.app}.snap`);
  await writeSnapshot(path, parts);
  return path;
}

/**
 * Loads every snapshot of app `server.app` found in `dir` (`*.app<app>.snap`, as
 * {@link snapshotServer} writes them, from any server of the cluster that wrote them) into the
 * server's table before it serves: a cluster restarts from the snapshots of all its servers,
 * whatever its new membership (each server loads all keys; it answers for those its ring gives
 * it). Call it after `PsNode.create`/`new KVServer` and before `node.start()`. Resolves with the
 * number of keys loaded. Node only (`@ps/core/node`).
 * @throws PsError `PS_ERR_SNAPSHOT` for a corrupt file or one written by another update rule;
 *   `PS_ERR_LENS_CONFLICT` when files disagree on a key's length.
 */
export async function restoreServer(server: KVServer, dir: string): Promise<number> {
  const table = tableOf(server);
  const suffix = `.app${server.app}.snap`;
  const files = (await readdir(dir)).filter((f) => f.endsWith(suffix)).sort();
  let loaded = 0;
  for (const f of files) {
    const { meta, data } = await readSnapshot(join(dir, f));
    if (meta.handler !== server.handlerName || meta.app !== server.app) {
      throw new PsError(
        PsErrorCode.SNAPSHOT,
        `${f} holds app ${meta.app} of handler ${meta.handler}; this server runs app ${server.app} with ${server.handlerName}`,
      );
    }
    if (data.dtype !== table.dtype || data.states !== table.states) {
      throw new PsError(
        PsErrorCode.SNAPSHOT,
        `${f} holds ${data.states} ${data.dtype} slabs; the table has ${table.states} ${table.dtype}`,
      );
    }
    const n = data.keys.length;
    if (n === 0) continue;
    // A fixed-width table stays fixed-width (pulls then answer without lens).
    const w = data.lens[0]!;
    const uniform = data.lens.every((l) => l === w);
    const entries = uniform ? table.lookup(data.keys, true, w) : table.lookup(data.keys, true, 0, data.lens);
    let vo = 0;
    for (let i = 0; i < n; i++) {
      const len = data.lens[i]!;
      const off = table.offsetOf(entries[i]!);
      for (let s = 0; s < table.states; s++) table.slabs[s]!.set(data.slabs[s]!.subarray(vo, vo + len), off);
      vo += len;
    }
    loaded += n;
  }
  return loaded;
}
