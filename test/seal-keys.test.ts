// sealKeys end to end: a worker and a server in one process (inproc, where the server sees the
// worker's very arrays and trusts a sealed list by identity), and over real TCP on 127.0.0.1,
// where a sealed list changes nothing on the server. Sealed, unsealed and other lists
// interleaved must give exact sums.
import {
  createServer,
  createWorker,
  type KVWorker,
  Scheduler,
  sealKeys,
  sumHandler,
  type Transport,
} from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function pair(kind: 'inproc' | 'tcp'): Promise<KVWorker> {
  const hub = new InprocHub();
  const make = (): Transport => (kind === 'inproc' ? inproc({ hub }) : tcp());
  const scheduler = await Scheduler.start({ transport: make(), numServers: 1, numWorkers: 1, logger: quiet });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const handler = sumHandler({ denseRange: { count: 1 << 16 } });
  const [s, w] = await Promise.all([
    createServer({ transport: make(), scheduler: at, logger: quiet, handler }),
    createWorker({ transport: make(), scheduler: at, logger: quiet }),
  ]);
  closers.push(
    () => w.node.close(),
    () => s.node.close(),
    () => scheduler.shutdown(),
  );
  return w.worker;
}

const range = (n: number, from = 0) => BigUint64Array.from({ length: n }, (_, i) => BigInt(from + i));

describe.each(['inproc', 'tcp'] as const)('sealed key lists (%s)', (kind) => {
  it('answers exact sums for a sealed list, an unsealed copy and a shifted list, interleaved', async () => {
    const worker = await pair(kind);
    const n = 20_000;
    const sealed = sealKeys(range(n));
    const copy = sealed.slice();
    const shifted = range(n, 1);
    const expected = new Float64Array(n + 1); // key k's sum so far
    const into = new Float32Array(n);
    const lists = [sealed, sealed, copy, sealed, shifted, sealed, copy, copy, shifted, sealed, sealed];
    for (let r = 0; r < lists.length; r++) {
      const keys = lists[r]!;
      const vals = Float32Array.from({ length: n }, (_, i) => ((i * 7 + r) % 13) - 6);
      for (let i = 0; i < n; i++) expected[Number(keys[i]!)]! += vals[i]!;
      const got = await worker.wait(worker.pushPull({ keys, vals }, { into }));
      expect(got.vals).toBe(into);
      let wrong = -1;
      for (let i = 0; i < n && wrong < 0; i++) if (into[i] !== expected[Number(keys[i]!)]) wrong = i;
      expect(wrong).toBe(-1);
    }
    const pulled = await worker.wait(worker.pull(sealed));
    expect(Array.from(pulled.vals.subarray(0, 4))).toEqual(Array.from(expected.subarray(0, 4)));
    expect(pulled.vals[n - 1]).toBe(expected[n - 1]);
  });
});
