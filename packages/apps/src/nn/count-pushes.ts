import type { KVRequest, PsNode, TableHandler } from '@ps/core';

/**
 * Wraps a server's update rule to count the push requests it applies per worker node id (a
 * tab's id starts with `tab-`), for a job's summary (`push_requests_by_worker`). Only a worker's
 * own pushes count; in sync mode the server applies each iteration's sum once, and the sum names
 * the worker pushes it holds (`contributors`), which count one each. The table and the rule are
 * the wrapped handler's, so `assignWeightsHandler(counted)` and replication see the same state.
 * `node()` gives the server's node once it exists.
 */
export function countPushes(
  rule: TableHandler,
  counts: Record<string, number>,
  node: () => PsNode | undefined,
): TableHandler {
  return Object.assign(
    (req: KVRequest) => {
      const self = node();
      if (req.push && req.contributors && req.sender === self?.id)
        for (const [w] of req.contributors) counts[w] = (counts[w] ?? 0) + 1;
      else if (req.push && (!self || self.view.workers.some((w) => w.id === req.sender)))
        counts[req.sender] = (counts[req.sender] ?? 0) + 1;
      return rule(req);
    },
    { table: rule.table, rule: rule.rule },
  );
}
