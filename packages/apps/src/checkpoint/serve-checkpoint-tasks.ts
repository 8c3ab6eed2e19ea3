import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { KVServer, PsNode } from '@ps/core';
import { snapshotServer } from '@ps/core/node';
import { checkpointDataName } from './checkpoint-manifest.js';
import { CKPT_TASKS } from './worker-checkpoint-hold.js';

/**
 * A server's side of a consistent checkpoint (see docs/checkpoints.md), for the table of `server`
 * (app 0) into `<dir>/checkpoint-<id>/`:
 *
 * - `ckpt-copy { id }` copies the table (every key and state slab) synchronously, at once, while
 *   the workers are held at the cut, and starts writing the copy; it answers `{ copyMs }`;
 * - `ckpt-flush { id }` answers `{ file, bytes }` once the copy is on disk (atomically: a temp
 *   file, fsync, rename), while training goes on.
 */
export function serveCheckpointTasks(node: PsNode, server: KVServer, dir: string): void {
  const writing = new Map<number, Promise<string>>();
  node.tasks.handle(CKPT_TASKS.copy, (args) => {
    const { id } = args as { id: number };
    const t0 = performance.now();
    // snapshotServer copies and encodes the table before its first await: that is the cut.
    const p = snapshotServer(server, join(dir, checkpointDataName(id)));
    const copyMs = performance.now() - t0;
    p.catch(() => undefined);
    writing.set(id, p);
    return { copyMs };
  });
  node.tasks.handle(CKPT_TASKS.flush, async (args) => {
    const { id } = args as { id: number };
    const p = writing.get(id);
    writing.delete(id);
    if (!p) throw new Error(`checkpoint ${id} was never copied on ${node.id}`);
    const path = await p;
    const { size } = await stat(path);
    return { file: basename(path), bytes: size };
  });
}
