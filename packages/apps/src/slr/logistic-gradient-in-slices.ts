import type { SparseDataset } from '../data/dataset.js';
import { addLogisticGradient, type BatchStats } from './logistic-gradient.js';

/**
 * One turn of the event loop: `setImmediate` in Node (I/O runs, no timer delay); a browser
 * (browser workers run this code too) has none, and gets a 0 ms timer.
 */
const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    const g = globalThis as { setImmediate?: (f: () => void) => unknown };
    if (typeof g.setImmediate === 'function') g.setImmediate(resolve);
    else setTimeout(resolve, 0);
  });

/** Rows computed between two looks at the clock (a look costs about what a row does). */
const ROWS_PER_LOOK = 8;

/** The training loop's slice: long enough that the turns cost little, short beside a round trip. */
export const GRADIENT_SLICE_MS = 0.5;

/**
 * {@link logisticGradient}, computed a few rows at a time, with a turn of the event loop
 * whenever `sliceMs` ms of computing passed since the last one: I/O that arrived meanwhile is
 * handled while the batch is still being computed.
 *
 * Why it pays (OSDI 2014, section 3.1: a worker starts the next iteration before its previous
 * push completed): with bounded delay the pull of batch b + τ + 1 leaves only once the push of
 * batch b is acknowledged and the workers' clock moved past it. A gradient computed in one
 * synchronous call holds those messages in the socket until it returns, so each batch's pull left
 * only after the previous batch's compute, and the worker then waited a full round trip (or two,
 * with the clock) for its weights. Between slices the acknowledgement, the clock and the pull go
 * out while the rest of the batch is computed, and the weights are usually there when the batch
 * ends. The same turns run the node's timers (heartbeats) during a long batch.
 *
 * Same arguments and result as {@link logisticGradient} (`grad` is zeroed first), plus:
 * @param sliceMs computing time between two turns of the event loop, in ms (> 0; see
 *   {@link GRADIENT_SLICE_MS}). `Infinity`: one slice, no turn.
 */
export async function logisticGradientInSlices(
  ds: SparseDataset,
  start: number,
  end: number,
  positions: Int32Array,
  weights: ArrayLike<number>,
  grad: Float32Array,
  bias: number,
  sliceMs: number,
): Promise<BatchStats> {
  grad.fill(0);
  const total: BatchStats = { loss: 0, correct: 0, rows: 0 };
  let since = performance.now();
  for (let r = start; r < end; r += ROWS_PER_LOOK) {
    const s = addLogisticGradient(ds, r, Math.min(end, r + ROWS_PER_LOOK), positions, weights, grad, bias);
    total.loss += s.loss;
    total.correct += s.correct;
    total.rows += s.rows;
    if (r + ROWS_PER_LOOK < end && performance.now() - since >= sliceMs) {
      await nextTurn();
      since = performance.now();
    }
  }
  return total;
}
