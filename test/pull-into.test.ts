// `pull(keys, { into })` and `pushPull(kv, { into })`: the answer written into the caller's
// buffer, in one process (inproc, where data messages travel unencoded) and over real TCP on
// 127.0.0.1 (framed), with two servers so that a request is sliced and joined back.
import {
  createServer,
  createWorker,
  type KVWorker,
  PsError,
  PsErrorCode,
  Scheduler,
  sumHandler,
  type Transport,
} from '@ps/core';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

async function cluster(kind: 'inproc' | 'tcp'): Promise<KVWorker> {
  const hub = new InprocHub();
  const make = (): Transport => (kind === 'inproc' ? inproc({ hub }) : tcp());
  const scheduler = await Scheduler.start({ transport: make(), numServers: 2, numWorkers: 1, logger: quiet });
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const server = () =>
    createServer({ transport: make(), scheduler: at, logger: quiet, handler: sumHandler() });
  const [s1, s2, w] = await Promise.all([
    server(),
    server(),
    createWorker({ transport: make(), scheduler: at, logger: quiet }),
  ]);
  closers.push(
    () => w.node.close(),
    () => s1.node.close(),
    () => s2.node.close(),
    () => scheduler.shutdown(),
  );
  return w.worker;
}

/** Keys spread over the whole key space, so that both servers own some. */
const n = 256;
const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * ((1n << 64n) / BigInt(n)) + 5n);

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof PsError ? err.code : 'not a PsError';
  }
  return undefined;
}

describe.each(['inproc', 'tcp'] as const)('answers into a caller buffer (%s)', (kind) => {
  it('pushPull writes the values after each push into the same buffer, and resolves to it', async () => {
    const worker = await cluster(kind);
    const vals = Float32Array.from({ length: n }, (_, i) => i);
    const into = new Float32Array(n).fill(-7);
    for (let round = 1; round <= 3; round++) {
      const got = await worker.wait(worker.pushPull({ keys, vals }, { into }));
      expect(got.vals).toBe(into);
      expect(got.keys).toBe(keys);
      expect(Array.from(into)).toEqual(Array.from(vals, (v) => v * round));
    }
    // The same values as a pushPull without `into` returns in an array of its own.
    const fresh = await worker.wait(worker.pushPull({ keys, vals: new Float32Array(n) }));
    expect(fresh.vals).not.toBe(into);
    expect(Array.from(fresh.vals)).toEqual(Array.from(vals, (v) => v * 3));
  });

  it('pull writes into the buffer, converting to its float type', async () => {
    const worker = await cluster(kind);
    await worker.wait(worker.push({ keys, vals: Float32Array.from({ length: 2 * n }, (_, i) => i / 2) }));
    const into = new Float64Array(2 * n);
    const got = await worker.wait(worker.pull(keys, { into }));
    expect(got.vals).toBe(into);
    expect(Array.from(into)).toEqual(Array.from({ length: 2 * n }, (_, i) => i / 2));
    expect(got.lens).toBeUndefined();
  });

  it('pull of variable-length values writes them in key order and gives their lens', async () => {
    const worker = await cluster(kind);
    const lens = Int32Array.from({ length: n }, (_, i) => (i % 3) + 1);
    const total = lens.reduce((a, b) => a + b, 0);
    const vals = Float32Array.from({ length: total }, (_, i) => i + 1);
    await worker.wait(worker.push({ keys, vals, lens }));
    const into = new Float32Array(total);
    const got = await worker.wait(worker.pull(keys, { into }));
    expect(got.vals).toBe(into);
    expect(Array.from(got.lens!)).toEqual(Array.from(lens));
    expect(Array.from(into)).toEqual(Array.from(vals));
  });

  it('rejects a buffer of the wrong length or type with PS_ERR_INTO_LENGTH, leaving it as it was', async () => {
    const worker = await cluster(kind);
    const vals = new Float32Array(n).fill(2);
    // A pushPull reads back as many values as it pushes: checked before anything is sent.
    expect(codeOf(() => worker.pushPull({ keys, vals }, { into: new Float32Array(n + 1) }))).toBe(
      PsErrorCode.INTO_LENGTH,
    );
    expect(codeOf(() => worker.pull(keys, { into: new Int32Array(n) as unknown as Float32Array }))).toBe(
      PsErrorCode.INTO_LENGTH,
    );
    expect(worker.inFlight).toBe(0);
    // A pull's width is the servers' to say: one value per key here, so n + 1 is refused on answer.
    await worker.wait(worker.push({ keys, vals }));
    const into = new Float32Array(n + 1).fill(-7);
    const ts = worker.pull(keys, { into });
    await expect(worker.wait(ts)).rejects.toMatchObject({ code: PsErrorCode.INTO_LENGTH });
    expect(into.every((v) => v === -7)).toBe(true);
    // The worker goes on serving.
    const ok = new Float32Array(n);
    await worker.wait(worker.pull(keys, { into: ok }));
    expect(ok.every((v) => v === 2)).toBe(true);
  });
});

describe('data messages in one process travel unencoded, under the same limits', () => {
  it('a request or an answer past maxFrameBytes is refused with PS_ERR_FRAME_TOO_LARGE', async () => {
    const hub = new InprocHub();
    const scheduler = await Scheduler.start({
      transport: inproc({ hub }),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const [s, w] = await Promise.all([
      createServer({
        transport: inproc({ hub }),
        scheduler: at,
        logger: quiet,
        handler: sumHandler(),
        maxFrameBytes: 16 * 1024,
      }),
      createWorker({ transport: inproc({ hub }), scheduler: at, logger: quiet, maxFrameBytes: 64 * 1024 }),
    ]);
    closers.push(
      () => w.node.close(),
      () => s.node.close(),
      () => scheduler.shutdown(),
    );
    const many = BigUint64Array.from({ length: 4096 }, (_, i) => BigInt(i));
    // 32 KiB of keys and 32 KiB of values: past the worker's own limit, refused before sending.
    await expect(
      w.worker.wait(w.worker.push({ keys: many, vals: new Float32Array(8192).fill(1) })),
    ).rejects.toMatchObject({ code: PsErrorCode.FRAME_TOO_LARGE });
    // Four pushes of 250 keys × 8 values (10 KB each) fit the server's 16 KiB.
    for (let p = 0; p < 4; p++) {
      const part = many.subarray(p * 250, (p + 1) * 250);
      await w.worker.wait(w.worker.push({ keys: part, vals: new Float32Array(2000).fill(p + 1) }));
    }
    const some = many.subarray(0, 500);
    const got = await w.worker.wait(w.worker.pull(some));
    expect(Array.from(got.vals)).toEqual(Array.from({ length: 4000 }, (_, i) => (i < 2000 ? 1 : 2)));
    // The pull of all 1,000 keys is 8 KB, its answer 32 KB: past the server's limit.
    await expect(w.worker.wait(w.worker.pull(many.subarray(0, 1000)))).rejects.toMatchObject({
      code: PsErrorCode.FRAME_TOO_LARGE,
    });
  });
});

describe('what a server in the same thread learns from the worker', () => {
  async function recording(kind: 'inproc' | 'tcp') {
    const seen: { out: unknown; keysTag: number | undefined }[] = [];
    const sum = sumHandler();
    const hub = new InprocHub();
    const make = (): Transport => (kind === 'inproc' ? inproc({ hub }) : tcp());
    const scheduler = await Scheduler.start({
      transport: make(),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const [s, w] = await Promise.all([
      createServer({
        transport: make(),
        scheduler: at,
        logger: quiet,
        handler: (req) => {
          seen.push({ out: req.out, keysTag: req.keysTag });
          return sum(req);
        },
      }),
      createWorker({ transport: make(), scheduler: at, logger: quiet }),
    ]);
    closers.push(
      () => w.node.close(),
      () => s.node.close(),
      () => scheduler.shutdown(),
    );
    return { worker: w.worker, seen };
  }

  // Long lists (the validation memo starts at 4,096 keys), A, A, A, B, A. The memo keeps a copy of
  // a list only once it repeats (a job whose lists never repeat pays no copy), so the second A is
  // validated again and the third keeps its tag.
  const a = BigUint64Array.from({ length: 5000 }, (_, i) => BigInt(2 * i));
  const b = BigUint64Array.from({ length: 5000 }, (_, i) => BigInt(2 * i + 1));

  it('inproc: the handler gets the caller buffer as out, and repeated long key lists keep their tag once they repeat', async () => {
    const { worker, seen } = await recording('inproc');
    const into = new Float32Array(5000);
    const ones = new Float32Array(5000).fill(1);
    for (const keys of [a, a, a, b, a]) {
      const got = await worker.wait(worker.pushPull({ keys, vals: ones }, { into }));
      expect(got.vals).toBe(into);
    }
    expect(Array.from(into.subarray(0, 3))).toEqual([4, 4, 4]); // a pushed four times
    expect(seen.map((r) => r.out === into)).toEqual([true, true, true, true, true]);
    const tags = seen.map((r) => r.keysTag);
    expect(tags[0]).toBeTypeOf('number');
    expect(tags[2]).toBe(tags[1]);
    expect(tags[3]).not.toBe(tags[2]);
    expect(tags[4]).not.toBe(tags[3]);
    expect(tags[4]).not.toBe(tags[1]); // a after b is validated again, under a new tag
    // Without into there is nothing to write into; a pull by the same worker of b is exact.
    const pulled = await worker.wait(worker.pull(b));
    expect(seen[5]!.out).toBeUndefined();
    expect(pulled.vals.every((v) => v === 1)).toBe(true);
  });

  it('tcp: the handler gets no out (the hint never travels on a wire), and the answer still lands in into', async () => {
    const { worker, seen } = await recording('tcp');
    const into = new Float32Array(5000);
    const got = await worker.wait(
      worker.pushPull({ keys: a, vals: new Float32Array(5000).fill(2) }, { into }),
    );
    expect(got.vals).toBe(into);
    expect(into.every((v) => v === 2)).toBe(true);
    expect(seen.map((r) => r.out)).toEqual([undefined]);
  });
});
