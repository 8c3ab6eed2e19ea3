import type { KVWorker, RequestOptions } from '@ps/core';
import { PsError, PsErrorCode } from '@ps/core';
import * as tf from '@tensorflow/tfjs';
import { type VariableKeyMap, variableKeyMap } from './variable-key-map.js';

// No Node module here: the bridge runs in a browser (a Web Worker) as it runs in Node.

/** Options of {@link TfjsBridge}. */
export interface TfjsBridgeOptions {
  /**
   * The worker of the app whose servers run the update rule (`sgdHandler`, `momentumHandler`,
   * `adamHandler`): gradients are pushed to it and weights pulled from it.
   */
  worker: KVWorker;
  /**
   * The worker of the app whose servers run `assignWeightsHandler(rule)` (out of sync mode):
   * {@link TfjsBridge.pushWeights} sets the servers' weights through it. Needed only to push weights.
   */
  weights?: KVWorker;
  /**
   * Each pushed gradient is multiplied by this. In sync mode the servers apply the rule to the
   * sum of the workers' pushes: 1/W turns it into the mean over W workers. Default 1.
   */
  gradientScale?: number;
}

/** What a {@link TfjsBridge.step} did. */
export interface BridgeStep {
  /** The loss on the batch, with the weights pulled for this step. */
  loss: number;
  /** The push's timestamp: `worker.wait(ts)` resolves once the servers applied it. */
  pushTs: number;
}

/** The variables a model trains: a LayersModel's trainable weights, or a list of `tf.Variable`s. */
export type TrainableVariables = tf.LayersModel | readonly tf.Variable[];

/**
 * The bridge between tfjs and @ps: a model's trainable variables live on the servers, laid out
 * by {@link variableKeyMap} (one key per float32 element, variables in order), and the servers'
 * update rule trains them. A worker pulls the weights into its variables, computes gradients
 * with `tf.variableGrads`, and pushes them; the rule on the servers (SGD, momentum, Adam) does
 * the update, so no tfjs optimizer runs on the workers.
 *
 * Two modes, as in Ray's parameter-server example: **sync** (the servers and the scheduler in
 * sync mode): step t pulls `{ iteration: t }` and pushes `{ iteration: t }`, the servers apply
 * the rule once to the sum of every worker's step-t gradients; **eventual** (no iteration): each
 * worker pulls what the servers hold, pushes, and goes on.
 *
 * Start: one worker (the leader) calls {@link pushWeights} with its freshly initialised
 * variables, every worker waits at a barrier, then {@link pullWeights}. See docs/apps/nn.md.
 */
export class TfjsBridge {
  /** The variables, in key-map order. */
  readonly variables: readonly tf.Variable[];
  readonly keyMap: VariableKeyMap;
  private readonly worker: KVWorker;
  private readonly weights: KVWorker | undefined;
  private readonly scale: number;
  private pending: number | undefined;

  /**
   * @param model a LayersModel (its `trainableWeights`, built) or a list of variables.
   * @throws PsError `PS_ERR_CONFIG` for a model with no trainable variable, a variable that is
   *   not float32, or a `gradientScale` that is not a finite positive number.
   */
  constructor(model: TrainableVariables, opts: TfjsBridgeOptions) {
    const vars = Array.isArray(model)
      ? (model as readonly tf.Variable[])
      : (model as tf.LayersModel).trainableWeights.map((w) => w.read() as tf.Variable);
    for (const v of vars)
      if (v.dtype !== 'float32')
        throw new PsError(
          PsErrorCode.CONFIG,
          `TfjsBridge: variable ${v.name} is ${v.dtype}; the servers hold float32 values only`,
        );
    const scale = opts.gradientScale ?? 1;
    if (!Number.isFinite(scale) || scale <= 0)
      throw new PsError(
        PsErrorCode.CONFIG,
        `TfjsBridge: gradientScale must be a finite number > 0, got ${scale}`,
      );
    this.variables = vars;
    this.keyMap = variableKeyMap(vars);
    this.worker = opts.worker;
    this.weights = opts.weights;
    this.scale = scale;
  }

  /** The variables' current values as one flat vector in key-map order. */
  async readVariables(): Promise<Float32Array> {
    const flat = new Float32Array(this.keyMap.total);
    const parts = await Promise.all(this.variables.map((v) => v.data()));
    this.keyMap.slots.forEach((s, i) => {
      flat.set(parts[i] as Float32Array, s.offset);
    });
    return flat;
  }

  /** Sets the variables from one flat vector in key-map order (its length must be `keyMap.total`). */
  writeVariables(flat: Float32Array): void {
    if (flat.length !== this.keyMap.total)
      throw new PsError(
        PsErrorCode.CONFIG,
        `TfjsBridge.writeVariables: ${flat.length} values for ${this.keyMap.total} elements`,
      );
    this.keyMap.slots.forEach((s, i) => {
      const v = this.variables[i]!;
      tf.tidy(() => v.assign(tf.tensor(flat.subarray(s.offset, s.offset + s.size), v.shape, 'float32')));
    });
  }

  /**
   * Sets the servers' weights to the variables' current values (and resets the rule's state),
   * through the `weights` worker. Resolves once the servers hold them.
   * @throws PsError `PS_ERR_CONFIG` when the bridge has no `weights` worker.
   */
  async pushWeights(): Promise<void> {
    if (!this.weights)
      throw new PsError(
        PsErrorCode.CONFIG,
        'TfjsBridge.pushWeights: no `weights` worker; open one on the app served by assignWeightsHandler(rule)',
      );
    const vals = await this.readVariables();
    await this.weights.wait(this.weights.push({ keys: this.keyMap.keys, vals }));
  }

  /**
   * Pulls the servers' weights into the variables. With `iteration` t (sync mode) it reads the
   * weights after every iteration before t was applied. Returns the flat vector pulled.
   */
  async pullWeights(opts: Pick<RequestOptions, 'iteration'> = {}): Promise<Float32Array> {
    const got = await this.worker.wait(this.worker.pull(this.keyMap.keys, opts));
    const vals = got.vals instanceof Float32Array ? got.vals : Float32Array.from(got.vals);
    this.writeVariables(vals);
    return vals;
  }

  /**
   * Gradients of `loss` with respect to the variables (those it does not touch get zeros), as
   * one flat vector in key-map order, multiplied by `gradientScale`; and the loss.
   */
  async gradients(loss: () => tf.Scalar): Promise<{ loss: number; grads: Float32Array }> {
    const { value, grads } = tf.variableGrads(loss, this.variables as tf.Variable[]);
    const flat = new Float32Array(this.keyMap.total);
    const parts = await Promise.all(this.variables.map((v) => grads[v.name]?.data()));
    this.keyMap.slots.forEach((s, i) => {
      const p = parts[i] as Float32Array | undefined;
      if (p) flat.set(p, s.offset);
    });
    const lossValue = (await value.data())[0]!;
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    if (this.scale !== 1) for (let i = 0; i < flat.length; i++) flat[i]! *= this.scale;
    return { loss: lossValue, grads: flat };
  }

  /**
   * Pushes a flat gradient vector (key-map order, already scaled) and returns the timestamp.
   * Sync mode: give the step's `iteration`, once per iteration on every worker.
   */
  pushGradients(grads: Float32Array, opts: Pick<RequestOptions, 'iteration'> = {}): number {
    if (grads.length !== this.keyMap.total)
      throw new PsError(
        PsErrorCode.CONFIG,
        `TfjsBridge.pushGradients: ${grads.length} values for ${this.keyMap.total} elements`,
      );
    return this.worker.push({ keys: this.keyMap.keys, vals: grads }, opts);
  }

  /**
   * One training step: waits for this worker's previous push, pulls the weights (of `iteration`
   * in sync mode), computes the gradients of `loss` and pushes them (with the same `iteration`).
   * It does not wait for the push to be applied: the next step's pull does (sync), or not
   * (eventual); `await bridge.flush()` at the end.
   */
  async step(loss: () => tf.Scalar, opts: Pick<RequestOptions, 'iteration'> = {}): Promise<BridgeStep> {
    await this.flush();
    await this.pullWeights(opts);
    const { loss: value, grads } = await this.gradients(loss);
    const pushTs = this.pushGradients(grads, opts);
    this.pending = pushTs;
    return { loss: value, pushTs };
  }

  /** Waits until the last push of {@link step} was applied by the servers. */
  async flush(): Promise<void> {
    const ts = this.pending;
    this.pending = undefined;
    if (ts !== undefined) await this.worker.wait(ts);
  }
}
