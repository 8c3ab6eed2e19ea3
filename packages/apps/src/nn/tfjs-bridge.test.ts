import {
  adamHandler,
  assignWeightsHandler,
  type CreatedWorker,
  createServer,
  createWorker,
  Scheduler,
  sgdHandler,
  type TableHandler,
} from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TfjsBridge } from './tfjs-bridge.js';
import { useWasmBackend } from './use-wasm-backend.js';

beforeAll(async () => {
  await useWasmBackend();
});

/** A scheduler, `servers` servers (app 0 the rule, app 1 its weights) and `workers` workers over TCP. */
async function cluster(rule: () => TableHandler, servers: number, workers: number, sync: boolean) {
  const scheduler = await Scheduler.start({
    transport: tcp(),
    numServers: servers,
    numWorkers: workers,
    sync,
  });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const all = await Promise.all([
    ...Array.from({ length: servers }, () => {
      const r = rule();
      return createServer({
        transport: tcp(),
        scheduler: at,
        handler: { 0: r, 1: assignWeightsHandler(r) },
        sync: { 1: false },
      });
    }),
    ...Array.from({ length: workers }, () =>
      createWorker({ transport: tcp(), scheduler: at, apps: [0, 1], dtype: 'float32' }),
    ),
  ]);
  const ws = all.slice(servers) as CreatedWorker<Float32Array>[];
  const stop = async () => {
    await Promise.all(ws.map((w) => w.node.finalize()));
    await scheduler.terminated;
  };
  return { ws, stop };
}

/** A small model of three layers, built, with seeded initial weights. */
function smallModel(seed: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [5, 5, 1],
      filters: 2,
      kernelSize: 3,
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tf.layers.flatten());
  m.add(
    tf.layers.dense({
      units: 4,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      biasInitializer: tf.initializers.randomNormal({ seed: seed + 2 }),
    }),
  );
  m.add(tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 3 }) }));
  return m;
}

let stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(stops.map((s) => s()));
  stops = [];
});

describe('TfjsBridge', () => {
  it('maps every variable to its keys: a pull after a push of known values gives them back exactly', async () => {
    const c = await cluster(() => adamHandler({ lr: 0.01 }), 2, 1, false);
    stops.push(c.stop);
    const model = smallModel(7);
    const bridge = new TfjsBridge(model, { worker: c.ws[0]!.workers[0]!, weights: c.ws[0]!.workers[1]! });
    // conv kernel [3,3,1,2], conv bias [2], dense kernel [18,4], bias [4], dense kernel [4,3], bias [3]
    expect(bridge.keyMap.slots.map((s) => [s.shape, s.offset])).toEqual([
      [[3, 3, 1, 2], 0],
      [[2], 18],
      [[18, 4], 20],
      [[4], 92],
      [[4, 3], 96],
      [[3], 108],
    ]);
    expect(bridge.keyMap.total).toBe(111);
    expect(bridge.keyMap.shift).toBe(57);
    // Known values, distinct per element: element i holds i/8 - 3 (exact in float32).
    const known = Float32Array.from({ length: 111 }, (_, i) => i / 8 - 3);
    bridge.writeVariables(known);
    await bridge.pushWeights();
    bridge.writeVariables(new Float32Array(111)); // forget them locally
    const pulled = await bridge.pullWeights();
    expect(Array.from(pulled)).toEqual(Array.from(known));
    // And each variable got its own slice, in row-major order.
    for (const [i, v] of bridge.variables.entries()) {
      const s = bridge.keyMap.slots[i]!;
      expect(v.shape).toEqual(s.shape);
      expect(Array.from(await v.data())).toEqual(Array.from(known.subarray(s.offset, s.offset + s.size)));
    }
  });

  it('a sync step with 2 workers applies the rule once to the sum of both gradients (exact float32)', async () => {
    const lr = 0.5;
    const c = await cluster(() => sgdHandler({ lr }), 2, 2, true);
    stops.push(c.stop);
    const xs = [
      tf.randomNormal([4, 5, 5, 1], 0, 1, 'float32', 11),
      tf.randomNormal([4, 5, 5, 1], 0, 1, 'float32', 12),
    ];
    const ys = [
      tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3),
      tf.oneHot(tf.tensor1d([2, 2, 0, 1], 'int32'), 3),
    ];
    const models = [smallModel(3), smallModel(99)]; // different initial weights: the leader's win
    const bridges = c.ws.map(
      (w, i) =>
        new TfjsBridge(models[i]!, { worker: w.workers[0]!, weights: w.workers[1]!, gradientScale: 0.5 }),
    );
    await bridges[0]!.pushWeights();
    await Promise.all(c.ws.map((w) => w.node.barrier('workers')));
    const w0 = await bridges[0]!.readVariables();
    const loss = (i: number) => () =>
      tf.losses.softmaxCrossEntropy(ys[i]!, models[i]!.apply(xs[i]!) as tf.Tensor) as tf.Scalar;
    // Each worker's gradient at w0, computed here through the same path as the step.
    await Promise.all(bridges.map((b) => b.pullWeights({ iteration: 0 })));
    const g = await Promise.all(bridges.map((b, i) => b.gradients(loss(i))));
    // The step itself: pull iteration 0 (w0), gradients, push iteration 0; then the weights of iteration 1.
    const steps = await Promise.all(bridges.map((b, i) => b.step(loss(i), { iteration: 0 })));
    expect(steps[0]!.loss).toBe(g[0]!.loss);
    await Promise.all(bridges.map((b) => b.flush()));
    const after = await Promise.all(bridges.map((b) => b.pullWeights({ iteration: 1 })));
    // The expected step, in float32 as the servers compute it: w0 - lr * (g0/2 + g1/2).
    const sum = new Float32Array(w0.length);
    for (let i = 0; i < sum.length; i++) sum[i] = g[0]!.grads[i]! + g[1]!.grads[i]!;
    const expected = new Float32Array(w0.length);
    for (let i = 0; i < sum.length; i++) expected[i] = w0[i]! - lr * sum[i]!;
    expect(Array.from(after[0]!)).toEqual(Array.from(expected));
    expect(Array.from(after[1]!)).toEqual(Array.from(expected));
    // And the step moved the weights: at least one gradient element is not zero.
    expect(sum.some((v) => v !== 0)).toBe(true);
  });
});
