/**
 * The neural-network part of @ps/apps, on tfjs: the bridge between a tfjs model and the parameter
 * server (`TfjsBridge`), tfjs's WebAssembly backend for Node (`useWasmBackend`,
 * `registerWasmConvGrad`), and the `pskv nn` job (`runNn`, the MNIST models, a worker's training
 * loop). Import from `@ps/apps/nn`: importing it loads `@tensorflow/tfjs` and its wasm backend
 * (about 0.3 s of CPU), which `@ps/apps` itself (sparse logistic regression, LDA, the sketch, the
 * dashboard) does not load.
 */

export { evaluateMnist, type MnistRows } from './nn/evaluate-mnist.js';
export { type MnistModelKind, mnistInputShape, mnistModel } from './nn/mnist-model.js';
export {
  NN_DEFAULT_LR,
  type NnConfig,
  nnRule,
  nnStepsPerEpoch,
  nnWorkerCount,
  resolveNnConfig,
} from './nn/nn-config.js';
export { registerWasmConvGrad } from './nn/register-wasm-conv-grad.js';
export { type NnSummary, type RunNnOptions, runNn } from './nn/run-nn.js';
export {
  type BridgeStep,
  TfjsBridge,
  type TfjsBridgeOptions,
  type TrainableVariables,
} from './nn/tfjs-bridge.js';
export { type TrainNnWorkerOptions, type TrainNnWorkerResult, trainNnWorker } from './nn/train-nn-worker.js';
export { useWasmBackend } from './nn/use-wasm-backend.js';
export { type VariableKeyMap, type VariableSlot, variableKeyMap } from './nn/variable-key-map.js';
