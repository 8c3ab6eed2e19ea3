import { PsError, PsErrorCode } from '../errors.js';

/**
 * The `keysTag` of a request's options, checked: a caller's promise that the request's key list
 * is unchanged since the worker's previous request under the same tag and array.
 *
 * **Contract.** The caller picks the tags. A request whose `keys` is the very `BigUint64Array`
 * of the worker's previous request and carries the same tag is trusted to hold the same keys:
 * the worker neither checks their order again nor compares them with the copy it sent the
 * server last, and sends the server only a reference to that list. After changing the array in
 * place, give the next request a new tag (a counter bumped on every refill does), or none: a
 * list changed under an old tag would be applied as the old list. As a guard, the worker still
 * checks the list's length and 8 sampled keys, which catches most such mistakes but not all.
 * Another array, another tag, or a request in between with another list always takes the full
 * path (order check and compare), so a wrong tag can cost a compare, never a wrong key, as long
 * as arrays are not changed under their tag.
 *
 * @returns the tag, or undefined when `opts` has none.
 * @throws PsError `PS_ERR_KEYS_TAG` when the tag is not an integer from 0 to 2^53 − 1.
 */
export function keysTagOf(opts: { keysTag?: number } | undefined): number | undefined {
  const tag = opts?.keysTag;
  if (tag === undefined) return undefined;
  if (typeof tag !== 'number' || !Number.isSafeInteger(tag) || tag < 0) {
    throw new PsError(
      PsErrorCode.KEYS_TAG,
      `keysTag must be an integer from 0 to 2^53 - 1 that names the key list's version, got ${String(tag)}; give a new tag whenever the keys change, or leave it out`,
      { keysTag: String(tag) },
    );
  }
  return tag;
}
