import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { filter, take } from 'rxjs';
import { PsError, PsErrorCode } from '../errors.js';
import type { KVServer } from '../kv-server.js';
import type { ClusterView } from '../membership/cluster-view.js';
import { KEY_SPACE_END } from '../wire/key-range.js';
import type { KVTable } from './kv-table.js';
import { readSnapshot, readSnapshotMeta, writeSnapshot } from './snapshot-file.js';
import type { TableRange } from './table-range.js';
import { encodeTableRange, type SnapshotSet } from './table-snapshot.js';

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
 * of its table, with every state slab) to `<dir>/<run>.r<ring>.<node id>.app<app>.snap`,
 * atomically (a temp file, fsync, rename): a crash leaves the previous snapshot or the new one,
 * never a torn file. The file names its set (see {@link SnapshotSet}): the run (`view.run`), the
 * ring version and the servers on that ring, each of which writes its own file; a restore takes
 * one whole set. Call it on every server of the ring, once the node has joined (after
 * `start()`; after termination is fine). Resolves with the file's path. Node only (`@ps/core/node`).
 * @throws PsError `PS_ERR_SNAPSHOT` for a handler without a table; `PS_ERR_PROTOCOL` before the
 *   node joined a cluster; file system errors as they come.
 */
export async function snapshotServer(server: KVServer, dir: string): Promise<string> {
  const table = tableOf(server);
  const view = server.node.view;
  const set: SnapshotSet = {
    run: view.run,
    ring: view.ring.version,
    servers: [...view.ring.servers],
    node: server.node.id,
    writtenAt: Date.now(),
  };
  if (!set.servers.includes(set.node)) {
    throw new PsError(
      PsErrorCode.SNAPSHOT,
      `server ${set.node} is not on ring ${set.ring} (it left or was declared dead): its snapshot would belong to no set`,
    );
  }
  const data = table.exportRanges(ALL);
  const parts = encodeTableRange(data, { app: server.app, handler: server.handlerName, set }, ALL);
  await mkdir(dir, { recursive: true });
  const name = `${safe(set.run)}.r${set.ring}.${safe(set.node)}.app${server.app}.snap`;
  const path = join(dir, name);
  await writeSnapshot(path, parts);
  return path;
}

/** File names: a node id or run id as it may appear in one (anything but `[A-Za-z0-9_-]` escaped). */
const safe = (s: string) =>
  s.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** Options of {@link restoreServer}. */
export interface RestoreOptions {
  /** Restore the set of this run (`ClusterView.run`; its latest ring's set) instead of the newest. */
  run?: string;
  /**
   * Called once the keys this server holds on its first ring were loaded, with their number
   * (see {@link restoreServer}); not called when the node closes before it joins.
   */
  onLoaded?: (keys: number) => void;
}

/** One set found in a directory: its files by server. */
interface FoundSet {
  run: string;
  ring: number;
  servers: string[];
  files: Map<string, string>;
  writtenAt: number;
}

/**
 * Chooses the snapshot set a restore takes from the files of one app in `dir`: the newest set
 * (by the time its last file was written), or the newest of the run named.
 * @throws PsError `PS_ERR_SNAPSHOT` (see {@link restoreServer}).
 */
async function chooseSet(dir: string, app: number, run: string | undefined): Promise<FoundSet> {
  const suffix = `.app${app}.snap`;
  const names = (await readdir(dir)).filter((f) => f.endsWith(suffix)).sort();
  const sets = new Map<string, FoundSet>();
  for (const f of names) {
    const { set } = await readSnapshotMeta(join(dir, f));
    if (!set) {
      throw new PsError(
        PsErrorCode.SNAPSHOT,
        `${f} in ${dir} names no run and ring (an older version wrote it): it cannot be told apart from other runs; move it away, or restore it into an empty directory of its own with this version's snapshotServer`,
      );
    }
    const key = `${set.run}\u0000${set.ring}`;
    let found = sets.get(key);
    if (!found) {
      found = { run: set.run, ring: set.ring, servers: set.servers, files: new Map(), writtenAt: 0 };
      sets.set(key, found);
    } else if (found.servers.join(',') !== set.servers.join(',')) {
      throw new PsError(
        PsErrorCode.SNAPSHOT,
        `${f} in ${dir} lists other servers for run ${set.run} ring ${set.ring} than its other files: the set is mixed; remove the stray files`,
      );
    }
    found.files.set(set.node, f);
    found.writtenAt = Math.max(found.writtenAt, set.writtenAt);
  }
  const all = [...sets.values()].sort((a, b) => b.writtenAt - a.writtenAt);
  const describe = (s: FoundSet) =>
    `run ${s.run} ring ${s.ring} (${s.files.size} of ${s.servers.length} files${s.files.size === s.servers.length ? '' : ', incomplete'})`;
  const candidates = run === undefined ? all : all.filter((s) => s.run === run);
  const chosen = candidates[0];
  if (!chosen) {
    throw new PsError(
      PsErrorCode.SNAPSHOT,
      run === undefined
        ? `${dir} holds no snapshot of app ${app}`
        : `${dir} holds no snapshot of app ${app} from run ${run}; it holds: ${all.map(describe).join('; ') || 'none'}`,
    );
  }
  const missing = chosen.servers.filter((id) => !chosen.files.has(id));
  if (missing.length > 0) {
    const complete = all.filter((s) => s.files.size === s.servers.length);
    throw new PsError(
      PsErrorCode.SNAPSHOT,
      `the ${run === undefined ? 'newest ' : ''}snapshot set in ${dir}, ${describe(chosen)}, lacks the file of server${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: restoring it would lose their ranges; ${complete.length > 0 ? `name a complete set's run to restore it instead (${complete.map(describe).join('; ')})` : 'no complete set is there'}`,
    );
  }
  return chosen;
}

/**
 * Restores one snapshot set of app `server.app` from `dir` (files as {@link snapshotServer} writes
 * them): the newest set, or the newest of the run named by `options.run`. The set must be
 * complete: one file of each server that was on its ring. A cluster restarts so from the
 * snapshots of all its servers, whatever its new membership: each server loads **only the keys
 * it holds on its new ring** (the ranges it masters and those it replicates, `view.replicas`),
 * wherever they were written, so no server keeps a stale copy of a range it does not hold.
 *
 * Call it after `PsNode.create`/`new KVServer` and before `node.start()` (`createServer({
 * beforeStart })`): it reads and checks every file at once, and loads the held keys when the
 * node gets its first view with itself on the ring, synchronously, before it handles any request
 * of that ring. Resolves with the number of keys in the set (each counted once per file holding
 * it); `options.onLoaded` gets the number loaded. Node only (`@ps/core/node`).
 * @throws PsError `PS_ERR_SNAPSHOT` when `dir` holds no set of the app (or of the run named), the
 *   set chosen is incomplete (a server's file is missing: the message lists the complete sets)
 *   or mixed (its files disagree on the ring's servers), a file names no set (written by an
 *   older version), or a file is corrupt or written by another update rule. Files that disagree
 *   on a key's length (`PS_ERR_LENS_CONFLICT`) are found when loading: the error is logged and
 *   the node closes, serving nothing.
 */
export async function restoreServer(
  server: KVServer,
  dir: string,
  options: RestoreOptions = {},
): Promise<number> {
  const table = tableOf(server);
  const chosen = await chooseSet(dir, server.app, options.run);
  const files = [...chosen.files.values()].sort();
  const parts: TableRange[] = [];
  let read = 0;
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
    parts.push(data);
    read += data.keys.length;
  }
  const node = server.node;
  node.cluster$
    .pipe(
      filter((v) => v.ring.has(node.id)),
      take(1),
    )
    .subscribe((view) => {
      try {
        const loaded = loadHeld(table, parts, view, node.id);
        node.log.info(
          `restored ${loaded} keys of app ${server.app} from run ${chosen.run} ring ${chosen.ring}`,
        );
        options.onLoaded?.(loaded);
      } catch (err) {
        node.log.error(`restore from ${dir} failed: ${(err as Error).message}; this server stops`);
        void node.close();
      }
    });
  return read;
}

/** Loads the keys of `parts` that `id` holds on `view`'s ring (as master or replica). */
function loadHeld(table: KVTable, parts: readonly TableRange[], view: ClusterView, id: string): number {
  const ring = view.ring;
  const heldList = ring.ranges().filter((r) => ring.replicasOf(r, view.replicas).includes(id));
  const held = new Set(heldList);
  for (const data of parts) {
    const n = data.keys.length;
    const pick: number[] = [];
    const from: number[] = [];
    let vo = 0;
    for (let i = 0; i < n; i++) {
      if (held.has(ring.rangeOf(data.keys[i]!))) {
        pick.push(i);
        from.push(vo);
      }
      vo += data.lens[i]!;
    }
    if (pick.length === 0) continue;
    const keys = BigUint64Array.from(pick, (i) => data.keys[i]!);
    const lens = Int32Array.from(pick, (i) => data.lens[i]!);
    // A fixed-width table stays fixed-width (pulls then answer without lens).
    const w = lens[0]!;
    const uniform = lens.every((l) => l === w);
    const entries = uniform ? table.lookup(keys, true, w) : table.lookup(keys, true, 0, lens);
    for (let j = 0; j < pick.length; j++) {
      const len = lens[j]!;
      const off = table.offsetOf(entries[j]!);
      for (let s = 0; s < table.states; s++) {
        table.slabs[s]!.set(data.slabs[s]!.subarray(from[j]!, from[j]! + len), off);
      }
    }
  }
  // Keys held in several files (a master's and its replica's) count once.
  return table.exportRanges(heldList).keys.length;
}
