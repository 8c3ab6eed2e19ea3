import type { PsNode } from '@ps/core';
import { BROWSER_WORKER_ID_PREFIX } from '../web/worker-query.js';

/**
 * Whether `node` leads a `pskv nn` job's workers (sets the servers' initial weights, evaluates
 * each epoch and at the end, reports the summary's accuracy): the Node worker of the lowest rank.
 * Browser tabs (ids starting with `tab-`) never lead: a tab can get rank 0.
 */
export function nnLeader(node: PsNode): boolean {
  const first = node.view.workers
    .filter((w) => !w.id.startsWith(BROWSER_WORKER_ID_PREFIX))
    .sort((a, b) => a.rank - b.rank)[0];
  return first?.id === node.id;
}
