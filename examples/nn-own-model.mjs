import { TfjsBridge, useWasmBackend } from '@ps/apps/nn';
import { adamHandler, assignWeightsHandler, createServer, createWorker, Scheduler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import * as tf from '@tensorflow/tfjs';

await useWasmBackend(); // tfjs on WebAssembly in Node (in a browser: setWasmPaths + setBackend)

// The servers run the update rule (Adam) on app 0; app 1 sets their weights (out of sync mode).
const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 2, sync: true });
const at = { host: '127.0.0.1', port: scheduler.address.port };
const rule = adamHandler({ lr: 0.05 });
const handler = { 0: rule, 1: assignWeightsHandler(rule) };

// Your own model: any LayersModel (or a list of tf.Variables). Here: is a point inside the unit circle?
function myModel() {
  const init = (seed) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [2], units: 16, activation: 'tanh', kernelInitializer: init(1) }));
  model.add(tf.layers.dense({ units: 1, kernelInitializer: init(2) }));
  return model;
}
const points = (seed, n) => {
  const x = tf.randomUniform([n, 2], -1.5, 1.5, 'float32', seed);
  return { x, y: x.square().sum(1, true).less(1).cast('float32') };
};

const train = async ({ node, workers: [grads, weights] }) => {
  const model = myModel();
  // Sync mode: the servers sum both workers' gradients, so each pushes half of its own (the mean).
  const bridge = new TfjsBridge(model, { worker: grads, weights, gradientScale: 1 / 2 });
  if (node.rank === 0) await bridge.pushWeights(); // worker 0's initial weights go to the servers
  await node.barrier('workers');
  const { x, y } = points(10 + node.rank, 256); // each worker its own data
  const loss = () => tf.losses.sigmoidCrossEntropy(y, model.apply(x));
  for (let t = 0; t < 80; t++) await bridge.step(loss, { iteration: t });
  await bridge.pullWeights({ iteration: 80 }); // the weights after every step
  const test = points(99, 1000);
  const hits = model.predict(test.x).greater(0).cast('float32').equal(test.y).mean();
  const accuracy = (await hits.data())[0];
  await node.finalize();
  return accuracy;
};

const [, ...nodes] = await Promise.all([
  createServer({ transport: tcp(), scheduler: at, handler, sync: { 1: false } }),
  createWorker({ transport: tcp(), scheduler: at, apps: [0, 1] }),
  createWorker({ transport: tcp(), scheduler: at, apps: [0, 1] }),
]);
const [a, b] = await Promise.all(nodes.map(train));
console.log(a === b, a > 0.9); // true true: one model on the servers, above 0.9 on unseen points
await scheduler.terminated;
