import type { KVRequest } from '../kv-server.js';
import type { KVPairs } from '../wire/kv-pairs.js';
import type { TableHandler } from './table-handler.js';

/**
 * A companion handler that sets the weights of another table handler: a push writes its values
 * into `target`'s weights (slab 0, creating missing keys) and zeroes the target's other state of
 * those keys (momentum, Adam's moments and step count), so the rule starts afresh from the given
 * weights; a pull reads the target's weights. Serve it on a second app id beside the rule, out of
 * sync mode (`createServer({ handler: { 0: rule, 1: assignWeightsHandler(rule) }, sync: { 1: false } })`):
 * a neural network's random initial weights go to the servers through it, its gradients through
 * the rule.
 *
 * Keys of fixed width only (no `lens`): the target table's layout.
 */
export function assignWeightsHandler(target: TableHandler): (req: KVRequest) => KVPairs | undefined {
  const { table } = target;
  return (req) => {
    const { keys, vals } = req.kv;
    const n = keys.length;
    if (req.push && n > 0) {
      const width = vals.length / n;
      const entries = table.lookup(keys, true, width);
      const slabs = table.slabs;
      for (let i = 0; i < n; i++) {
        const off = table.offsetOf(entries[i]!);
        for (let j = 0; j < width; j++) {
          slabs[0]![off + j] = vals[i * width + j]!;
          for (let s = 1; s < slabs.length; s++) slabs[s]![off + j] = 0;
        }
      }
    }
    // A pull reads the target's weights, as a pull of the rule's own app would.
    return req.pull ? target({ ...req, push: false, keysTag: undefined }) : undefined;
  };
}
