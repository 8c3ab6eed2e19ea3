#!/usr/bin/env node
// CPU time of a 1,000-key push request's wire path between a worker and a server, in one
// process, per message: the worker's filter chain (key-list reuse, which names the list the
// server holds), the frame codec both ways, the server's chain (which puts the keys back).
// Run after `npm run build`, in turn on two builds (A/B):
//   node packages/apps/scripts/wire-path-cpu.mjs [--messages 200000]
// Prints µs of CPU (process.cpuUsage) per message, median of 5 rounds.
import { decodeChain, decodeFrame, encodeChain, encodeFrame, keyListReuse } from '@ps/core';
import { Command } from 'commander';

const o = new Command().option('--messages <n>', 'messages per round', '200000').parse(process.argv).opts();
const count = Number(o.messages);
const worker = [keyListReuse()];
const server = [keyListReuse()];
const keys = BigUint64Array.from({ length: 1000 }, (_, i) => BigInt(i * 3));
const vals = new Float32Array(1000).fill(1);
const inc = '9f3a61c0b2d4e857';
let sink = 0;
const one = (ts) => {
  const meta = { app: 0, ts, request: true, push: true, pull: false, done: ts - 1, ring: 1, part: 0, inc };
  const sent = encodeChain(worker, { meta, data: [keys, vals] }, { peer: 'server-1', keys });
  const got = decodeFrame(encodeFrame(sent));
  const msg = decodeChain(server, got, { peer: 'worker-1', keys: got.data[0] });
  sink += msg.data[0].length;
};
// Two requests: the first stores the list at the server (after the repeat hint sees it twice).
for (let ts = 1; ts < 10; ts++) one(ts);
const rounds = [];
for (let r = 0; r < 6; r++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < count; i++) one(10 + r * count + i);
  const t = process.cpuUsage(t0);
  if (r > 0) rounds.push((t.user + t.system) / count);
}
rounds.sort((a, b) => a - b);
console.log(
  `wire path of a 1,000-key push (key-list reuse, frame codec both ways): ${rounds[2].toFixed(3)} µs of CPU per message (${worker[0].stats.sentRef} by reference)`,
);
if (sink === 0) console.log('');
