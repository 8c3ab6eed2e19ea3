/**
 * Key lists that their owner never changes once registered: the lists key-list reuse keeps and
 * hands to every request that names them (handlers must not change a request's keys in place).
 * A consumer that compared such a list once may trust it by identity afterwards, which saves a
 * memcmp of 8 bytes a key per request. Held weakly: a list dropped by its owner is forgotten.
 */
export const sharedKeyLists = new WeakSet<BigUint64Array>();
