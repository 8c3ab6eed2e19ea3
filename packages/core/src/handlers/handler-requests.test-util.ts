import type { KVRequest } from '../kv-server.js';
import type { KVPairs } from '../wire/kv-pairs.js';

// Requests for the update rules' tests: from worker `w`, app 0, timestamp 0.

/** A push of `vals` to `keys`. */
export const pushRequest = (keys: BigUint64Array, vals: KVPairs['vals']): KVRequest => ({
  sender: 'w',
  app: 0,
  ts: 0,
  push: true,
  pull: false,
  kv: { keys, vals },
});

/** A pull of `keys` (`empty`: the request's empty values, of the table's type). */
export const pullRequest = (keys: BigUint64Array, empty: KVPairs['vals']): KVRequest => ({
  sender: 'w',
  app: 0,
  ts: 0,
  push: false,
  pull: true,
  kv: { keys, vals: empty },
});
