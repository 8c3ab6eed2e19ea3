import { decodeChain, decodeFrame, encodeChain, encodeFrame } from '@ps/core';
import { lz4, quantize } from '@ps/filters';

// A push request as a node would send it: keys, then values.
const meta = {
  sender: 'worker-1',
  recipient: 'server-1',
  app: 0,
  ts: 0,
  request: true,
  push: true,
  pull: false,
};
const keys = BigUint64Array.from({ length: 1000 }, (_, i) => BigInt(i));
const msg = { meta, data: [keys, Float32Array.from(keys, (_, i) => Math.cos(i))] };

const filters = [quantize({ bits: 8 }), lz4()];
const frame = encodeFrame(encodeChain(filters, msg, { peer: 'server-1', keys })); // what travels
const back = decodeChain(filters, decodeFrame(frame), { peer: 'worker-1', keys });
console.log(back.data[1].length); // 1000
console.log(filters.map((f) => [f.signature, f.stats.bytesIn > f.stats.bytesOut])); // both shrink
