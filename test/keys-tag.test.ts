// `keysTag`: the caller's promise that a request's key list is unchanged, over real TCP on
// 127.0.0.1 (one server, so a request is one slice and its keys travel as a reference to the
// list the server holds). A list changed in place must reach the server with its new keys.
import {
  createServer,
  createWorker,
  type KVWorker,
  keyListReuse,
  PsError,
  PsErrorCode,
  Scheduler,
  sumHandler,
} from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});

async function cluster(): Promise<{ worker: KVWorker; reuse: ReturnType<typeof keyListReuse> }> {
  const scheduler = await Scheduler.start({ transport: tcp(), numServers: 1, numWorkers: 1, logger: quiet });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const reuse = keyListReuse();
  const [s, w] = await Promise.all([
    createServer({
      transport: tcp(),
      scheduler: at,
      logger: quiet,
      handler: sumHandler(),
      filters: [keyListReuse()],
    }),
    createWorker({ transport: tcp(), scheduler: at, logger: quiet, filters: [reuse] }),
  ]);
  closers.push(
    () => w.node.close(),
    () => s.node.close(),
    () => scheduler.shutdown(),
  );
  return { worker: w.worker, reuse };
}

/** Long enough for the worker's validation memo (4,096 keys) and key-list reuse (64). */
const N = 5000;
const list = () => BigUint64Array.from({ length: N }, (_, i) => BigInt(i) * 3n);
const ones = new Float32Array(N).fill(1);

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof PsError ? err.code : 'not a PsError';
  }
  return undefined;
}

describe('keysTag over TCP', () => {
  it('sends a list declared unchanged as a reference, and answers it right', async () => {
    const { worker, reuse } = await cluster();
    const keys = list();
    for (let round = 1; round <= 5; round++) {
      const got = await worker.wait(worker.pushPull({ keys, vals: ones }, { keysTag: 1 }));
      expect(got.vals.every((v) => v === round)).toBe(true);
    }
    // The first two carry the keys (the second stores them at the server), the rest name them.
    expect(reuse.stats).toMatchObject({ sentStore: 1, sentRef: 3 });
    const pulled = await worker.wait(worker.pull(keys, { keysTag: 1 }));
    expect(pulled.vals.every((v) => v === 5)).toBe(true);
  });

  it('sends a list changed in place under a new tag with its new keys', async () => {
    const { worker, reuse } = await cluster();
    const keys = list();
    for (let i = 0; i < 3; i++) await worker.wait(worker.push({ keys, vals: ones }, { keysTag: 1 }));
    // Shift keys 1000.. by one (still sorted, none of them sampled at the same place as before).
    for (let i = 1000; i < N; i++) keys[i] = keys[i]! + 1n;
    const refs = reuse.stats.sentRef;
    await worker.wait(worker.push({ keys, vals: ones }, { keysTag: 2 }));
    expect(reuse.stats.sentRef).toBe(refs); // compared, found changed: sent with its keys
    const old = await worker.wait(worker.pull(list()));
    const now = await worker.wait(worker.pull(keys.slice()));
    expect(Array.from(old.vals.subarray(0, 1000)).every((v) => v === 4)).toBe(true);
    expect(Array.from(old.vals.subarray(1000)).every((v) => v === 3)).toBe(true);
    expect(Array.from(now.vals.subarray(1000)).every((v) => v === 1)).toBe(true);
  });

  it('catches a list changed at a sampled key under its old tag', async () => {
    const { worker } = await cluster();
    const keys = list();
    for (let i = 0; i < 3; i++) await worker.wait(worker.push({ keys, vals: ones }, { keysTag: 9 }));
    keys[N - 1] = keys[N - 1]! + 1n; // the last key is always sampled
    await worker.wait(worker.push({ keys, vals: ones }, { keysTag: 9 }));
    const got = await worker.wait(worker.pull(new BigUint64Array([keys[N - 1]! - 1n, keys[N - 1]!])));
    expect(Array.from(got.vals)).toEqual([3, 1]);
  });

  it('refuses a keysTag that is not an integer from 0 to 2^53 - 1 with PS_ERR_KEYS_TAG', async () => {
    const { worker } = await cluster();
    const keys = list();
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53, '1' as unknown as number]) {
      expect(codeOf(() => worker.push({ keys, vals: ones }, { keysTag: bad }))).toBe(PsErrorCode.KEYS_TAG);
      expect(codeOf(() => worker.pull(keys, { keysTag: bad }))).toBe(PsErrorCode.KEYS_TAG);
      expect(codeOf(() => worker.pushPull({ keys, vals: ones }, { keysTag: bad }))).toBe(
        PsErrorCode.KEYS_TAG,
      );
    }
    expect(worker.inFlight).toBe(0);
  });
});
