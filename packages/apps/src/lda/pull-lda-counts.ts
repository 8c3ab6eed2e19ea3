import type { KVWorker } from '@ps/core';
import { ldaKeys } from './lda-keys.js';

/** The whole model as the servers hold it: n(w,k) and n(k). */
export interface LdaCounts {
  /** n(w,k) at `nwk[w * K + k]` (Int32Array, V × K). */
  nwk: Int32Array;
  /** n(k) (Int32Array, K). */
  nk: Int32Array;
}

/**
 * Pulls every word's K counts and the topic totals (see {@link ldaKeys}) in one request and
 * returns them as integers.
 */
export async function pullLdaCounts(
  worker: KVWorker,
  vocabulary: number,
  topics: number,
): Promise<LdaCounts> {
  const keys = ldaKeys(
    Uint32Array.from({ length: vocabulary }, (_, i) => i),
    vocabulary,
  );
  const { vals } = await worker.wait(worker.pull(keys));
  const V = vocabulary * topics;
  return {
    nwk: Int32Array.from(vals.subarray(0, V), Math.round),
    nk: Int32Array.from(vals.subarray(V, V + topics), Math.round),
  };
}
