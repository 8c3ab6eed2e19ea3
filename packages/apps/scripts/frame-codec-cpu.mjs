#!/usr/bin/env node
// CPU time of the frame codec on the metas of a 1,000-key push over TCP, per frame: the request
// (delivery fields and a key-list reference, keys not sent) and its answer, each encoded by
// encodeFrame and decoded by decodeFrame at an 8-aligned offset. Run after `npm run build`, in
// turn on two builds (A/B):
//   node packages/apps/scripts/frame-codec-cpu.mjs [--frames 200000]
// Prints µs of CPU (process.cpuUsage) per encode and per decode, median of 5 rounds.
import { decodeFrame, encodeFrame, FRAME_VERSION } from '@ps/core';
import { Command } from 'commander';

const o = new Command().option('--frames <n>', 'frames per round', '200000').parse(process.argv).opts();
const frames = Number(o.frames);
const request = {
  meta: {
    app: 0,
    ts: 123456,
    request: true,
    push: true,
    pull: false,
    done: 123455,
    ring: 1,
    part: 0,
    inc: '9f3a61c0b2d4e857',
    filters: { keyReuse: { id: 187349212345, n: 1000 } },
  },
  data: [new BigUint64Array(0), new Float32Array(1000)],
};
const answer = { meta: { app: 0, ts: 123456, request: false, push: true, pull: false, part: 0 }, data: [] };

const cpu = (f) => {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / frames;
};
const copy = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const rows = [];
for (const [name, msg] of [
  ['request', request],
  ['answer', answer],
]) {
  const frame = copy(encodeFrame(msg));
  const enc = [];
  const dec = [];
  let sink = 0;
  for (let r = 0; r < 6; r++) {
    const e = cpu(() => {
      for (let i = 0; i < frames; i++) sink += encodeFrame(msg).length;
    });
    const d = cpu(() => {
      for (let i = 0; i < frames; i++) sink += decodeFrame(frame).meta.ts;
    });
    if (r > 0) {
      enc.push(e);
      dec.push(d);
    }
  }
  rows.push(
    `${name} (${frame.byteLength} B): encode ${median(enc).toFixed(3)} µs, decode ${median(dec).toFixed(3)} µs`,
  );
  if (sink === 0) console.log('');
}
console.log(`frame version ${FRAME_VERSION}: ${rows.join('; ')}`);
