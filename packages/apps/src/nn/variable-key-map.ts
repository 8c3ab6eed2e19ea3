import { PsError, PsErrorCode } from '@ps/core';

/** One variable's place in a {@link VariableKeyMap}. */
export interface VariableSlot {
  /** The variable's name (tfjs `Variable.name`), for messages and docs. */
  readonly name: string;
  /** Its shape, e.g. `[784, 128]` for a dense kernel. */
  readonly shape: readonly number[];
  /** Elements (the product of `shape`). */
  readonly size: number;
  /** Index of its first element in the flat vector of every variable, in order. */
  readonly offset: number;
}

/**
 * Where each element of a list of variables lives on the servers: the variables are laid end to
 * end in their given order (a `LayersModel`'s `trainableWeights` order: layer by layer, kernel
 * before bias), each in row-major order (tfjs `dataSync()` order), into one flat float32 vector
 * of `total` elements; element i of that vector is the key `i · 2^shift`, one value per key. The
 * shift spreads the keys over the whole 64-bit key space (`shift = 64 − ⌈log2 total⌉`), so the
 * servers' consistent-hash ring splits the model evenly between them.
 *
 * Example, an MLP 784 → 128 → 10: `dense/kernel [784, 128]` at offset 0, `dense/bias [128]` at
 * 100,352, `dense_1/kernel [128, 10]` at 100,480, `dense_1/bias [10]` at 101,760; total 101,770,
 * shift 47.
 */
export interface VariableKeyMap {
  readonly slots: readonly VariableSlot[];
  /** Elements of every variable together (the length of a pushed or pulled vector). */
  readonly total: number;
  /** Key of element i: `BigInt(i) << BigInt(shift)`. */
  readonly shift: number;
  /** The keys of the whole vector, strictly increasing (one list, reused by every request). */
  readonly keys: BigUint64Array;
}

/**
 * Lays variables (anything with a name and a shape) out on keys: see {@link VariableKeyMap}.
 * The same list in the same order gives the same map on every worker.
 * @throws PsError `PS_ERR_CONFIG` for an empty list, a shape with a non-integer or negative
 *   dimension, or more than 2^32 elements in all.
 */
export function variableKeyMap(
  variables: readonly { name: string; shape: readonly number[] }[],
): VariableKeyMap {
  if (variables.length === 0)
    throw new PsError(
      PsErrorCode.CONFIG,
      'variableKeyMap: no variables; pass the model or its trainable variables',
    );
  const slots: VariableSlot[] = [];
  let total = 0;
  for (const v of variables) {
    if (!v.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new PsError(
        PsErrorCode.CONFIG,
        `variableKeyMap: variable ${v.name} has shape [${v.shape.join(', ')}]; every dimension must be a non-negative integer (build the model first)`,
      );
    const size = v.shape.reduce((a, b) => a * b, 1);
    slots.push({ name: v.name, shape: [...v.shape], size, offset: total });
    total += size;
  }
  if (total > 2 ** 32)
    throw new PsError(PsErrorCode.CONFIG, `variableKeyMap: ${total} elements; at most 2^32 fit the key map`);
  const bits = Math.max(1, Math.ceil(Math.log2(Math.max(total, 2))));
  const shift = 64 - bits;
  const keys = new BigUint64Array(total);
  const s = BigInt(shift);
  for (let i = 0; i < total; i++) keys[i] = BigInt(i) << s;
  return { slots, total, shift, keys };
}
