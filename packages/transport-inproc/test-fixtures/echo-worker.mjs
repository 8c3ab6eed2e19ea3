// A worker thread for the cross-thread tests: runs the built transport (../dist) and core.
//
// workerData: { port: MessagePort to a ThreadHub, id: node id, mode, target?: { host, port } }
//   mode 'listen': bind (listening), echo every frame back to its sender.
//   mode 'dial':   bind with listen: false, connect to `target`, echo every frame back.
//   mode 'once':   like 'dial', but close the transport after the first echo (the thread should
//                  then exit by itself).
// Frames are decoded and re-encoded with core's codec, so an echo is byte-exact only if both the
// transport and the codec are. The worker reports `{ ready: address }` to its parent once it
// can take frames, and `{ error: message }` if something fails.
import { parentPort, workerData } from 'node:worker_threads';
import { decodeFrame, encodeFrame } from '@ps/core';
import { threads } from '../dist/index.js';

const { port, id, mode, target } = workerData;
const transport = threads({ port });

transport.frames$.subscribe(({ from, frame }) => {
  const msg = decodeFrame(frame);
  transport
    .send(from, encodeFrame(msg))
    .then(() => (mode === 'once' ? transport.close() : undefined))
    .catch((err) => parentPort?.postMessage({ error: String(err) }));
});

try {
  if (mode === 'listen') {
    const address = await transport.bind({ id, host: 'workers', port: 0 });
    parentPort?.postMessage({ ready: address });
  } else {
    await transport.bind({ id, host: 'workers', port: 0 }, { listen: false });
    const peer = await transport.connect(target);
    parentPort?.postMessage({ ready: { id, peer } });
  }
} catch (err) {
  parentPort?.postMessage({ error: String(err) });
}
