// Writes app0.snap in the current folder.
import { adagradHandler, encodeTableRange, KEY_SPACE_END } from '@ps/core';
import { readSnapshot, writeSnapshot } from '@ps/core/node';

const all = [{ begin: 0n, end: KEY_SPACE_END }];
const handler = adagradHandler();
// ... serve requests (here: one push, straight into the handler) ...
const kv = { keys: new BigUint64Array([2n, 9n]), vals: new Float32Array([1, -1]) };
handler({ push: true, pull: false, kv, sender: 'worker-0', app: 0, ts: 0 });
await writeSnapshot(
  'app0.snap',
  encodeTableRange(handler.table.exportRanges(all), { app: 0, handler: 'adagrad' }, all),
);

const restored = adagradHandler();
const snap = await readSnapshot('app0.snap');
restored.table.importRanges(snap.ranges ?? all, snap.data);
const pull = {
  push: false,
  pull: true,
  kv: { keys: kv.keys, vals: new Float32Array(0) },
  sender: 'worker-0',
  app: 0,
  ts: 1,
};
console.log(Array.from(handler(pull).vals), Array.from(restored(pull).vals)); // the same weights
