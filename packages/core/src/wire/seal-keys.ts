import { validateKeys } from './kv-pairs.js';

/** Key lists sealed by their owners, each validated once (held weakly: a dropped list is forgotten). */
const sealed = new WeakSet<BigUint64Array>();

/**
 * Seals a key list: validates it once and records the caller's promise never to change it
 * again, so that every later `push`, `pull` and `pushPull` of this very array trusts it by
 * identity. Without a seal a worker recognises a repeated long list by comparing it with a copy
 * of the last one (8 B a key read twice per request: at 1,000,000 keys 16 MB of memory traffic,
 * 17% of an in-process pushPull's profile), since an unsealed array may have been refilled in
 * place. Meant for the loop that sends the same keys every step (a dense model, a
 * worker's fixed feature set), as ps-lite's shared arrays are.
 *
 * The promise is not checked: writing into a sealed array is a bug in the caller, and requests
 * of it may then act on the keys it held when it was last validated (in one process a server's
 * table resolves a sealed list once and reuses its entries). Copy a sealed list
 * (`keys.slice()`) to change it. Sealing changes nothing over a wire: a server in another
 * process receives bytes and validates them as it does any list.
 *
 * @param keys strictly increasing keys.
 * @returns `keys` itself, sealed.
 * @throws PsError `PS_ERR_KEYS_UNSORTED` or `PS_ERR_KEYS_DUPLICATE`, as `validateKeys`.
 */
export function sealKeys(keys: BigUint64Array): BigUint64Array {
  if (sealed.has(keys)) return keys;
  validateKeys(keys);
  sealed.add(keys);
  return keys;
}

/** True for a list passed to {@link sealKeys}: valid, and never changed since (its owner's promise). */
export function isSealed(keys: BigUint64Array): boolean {
  return sealed.has(keys);
}
