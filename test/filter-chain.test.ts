// Filter chains in nodes: encode in list order on send, decode in reverse on receive, agreement
// at registration, and a failed decode answered instead of dropped.
import {
  createServer,
  createWorker,
  type Filter,
  isPsError,
  type Message,
  PsError,
  PsErrorCode,
  Scheduler,
  sumHandler,
} from '@ps/core';
import { keyCaching, quantize } from '@ps/filters';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

/** A lossless test filter: XORs every value byte with `mask` and records the order it runs in. */
function xorValues(mask: number, log: string[]): Filter {
  const flip = (msg: Message, tag: string): Message => {
    const i = msg.meta.request ? 1 : 0;
    const seg = msg.data[i];
    if (!(seg instanceof Float32Array)) return msg;
    const bytes = new Uint8Array(seg.buffer, seg.byteOffset, seg.byteLength).map((b) => b ^ mask);
    log.push(`${tag}${mask}`);
    const data = [...msg.data];
    data[i] = new Float32Array(bytes.buffer);
    return { meta: { ...msg.meta, filters: { ...msg.meta.filters, [`xor${mask}`]: 1 } }, data };
  };
  return {
    name: `xor${mask}`,
    signature: `xor:${mask}`,
    lossless: true,
    stats: { messages: 0, bytesIn: 0, bytesOut: 0 },
    encode: (m) => flip(m, 'e'),
    decode: (m) => flip(m, 'd'),
  };
}

async function cluster(
  serverFilters: () => Filter[],
  workerFilters: () => Filter[],
  startTimeoutMs = 60_000,
) {
  const hub = new InprocHub();
  const scheduler = await Scheduler.start({
    transport: inproc({ hub }),
    numServers: 1,
    numWorkers: 1,
    logger: quiet,
  });
  closers.push(() => scheduler.shutdown());
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const server = createServer({
    transport: inproc({ hub }),
    scheduler: at,
    logger: quiet,
    handler: sumHandler(),
    filters: serverFilters(),
    startTimeoutMs,
  });
  const worker = createWorker({
    transport: inproc({ hub }),
    scheduler: at,
    logger: quiet,
    filters: workerFilters(),
    startTimeoutMs,
  });
  return { server, worker };
}

describe('filter chains in nodes', () => {
  it('encode in list order, decode in reverse; values arrive exact; stats count bytes', async () => {
    const log: string[] = [];
    const wf = [xorValues(1, log), xorValues(2, log)];
    const { server, worker } = await cluster(
      () => [xorValues(1, []), xorValues(2, [])],
      () => wf,
    );
    const [s, w] = await Promise.all([server, worker]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    const keys = new BigUint64Array([1n, 2n, 3n]);
    await w.worker.wait(w.worker.push({ keys, vals: Float32Array.of(1.5, -2, 3) }));
    // The push was encoded by xor1 then xor2 on the worker.
    expect(log.slice(0, 2)).toEqual(['e1', 'e2']);
    log.length = 0;
    const got = await w.worker.wait(w.worker.pull(keys));
    expect([...got.vals]).toEqual([1.5, -2, 3]);
    // The pull's answer was decoded by xor2 then xor1.
    expect(log).toEqual(['d2', 'd1']);
    expect(wf[0]!.stats.messages).toBe(2);
    expect(wf[0]!.stats.bytesIn).toBeGreaterThan(0);
  });

  it('refuses a node whose chain differs from the cluster with PS_ERR_FILTER_MISMATCH', async () => {
    const { server, worker } = await cluster(
      () => [xorValues(1, [])],
      () => [xorValues(3, [])],
      3000,
    );
    // Whichever registered second is refused; the other cannot complete the cluster and times out.
    const [a, b] = await Promise.allSettled([server, worker]);
    const reasons = [a, b].map((r) => (r.status === 'rejected' ? (r.reason as Error) : undefined));
    const refused = reasons.filter((e) => isPsError(e, PsErrorCode.FILTER_MISMATCH));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.message).toMatch(/'xor:(1|3)' but the cluster uses 'xor:(3|1)'/);
  });

  it('answers a request its chain cannot decode with the error, so wait() rejects', async () => {
    const broken: Filter = {
      ...xorValues(1, []),
      decode: (m) => {
        if (m.meta.request) throw new PsError(PsErrorCode.FRAME_MALFORMED, 'test filter refuses to decode');
        return m;
      },
      encode: (m) => m,
    };
    const passthrough: Filter = { ...xorValues(1, []), encode: (m) => m, decode: (m) => m };
    const { server, worker } = await cluster(
      () => [broken],
      () => [passthrough],
    );
    const [s, w] = await Promise.all([server, worker]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    const err = await w.worker.wait(w.worker.pull(new BigUint64Array([1n]))).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.FRAME_MALFORMED)).toBe(true);
    expect((err as Error).message).toMatch(/refuses to decode/);
  });

  it("gives filters the request's keys: on the server encoding an answer, on the worker decoding it", async () => {
    const seen: string[] = [];
    const spy = (side: string): Filter => ({
      name: 'spy',
      signature: 'spy',
      lossless: true,
      stats: { messages: 0, bytesIn: 0, bytesOut: 0 },
      encode: (m, ctx) => {
        if (!m.meta.request && m.meta.pull) seen.push(`${side}-encode:${ctx.keys?.join(' ')}`);
        return m;
      },
      decode: (m, ctx) => {
        if (!m.meta.request && m.meta.pull) seen.push(`${side}-decode:${ctx.keys?.join(' ')}`);
        return m;
      },
    });
    const { server, worker } = await cluster(
      () => [spy('server')],
      () => [spy('worker')],
    );
    const [s, w] = await Promise.all([server, worker]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    await w.worker.wait(w.worker.pull(new BigUint64Array([4n, 9n, 16n])));
    expect(seen).toEqual(['server-encode:4 9 16', 'worker-decode:4 9 16']);
  });

  it('key caching: a server that forgot a list answers PS_ERR_KEY_CACHE_MISS and the worker resends it (exact sums)', async () => {
    // The server keeps one list per peer; the worker believes it keeps 4,096: misses happen.
    const serverKc = keyCaching({ capacity: 1 });
    const workerKc = keyCaching({ capacity: 4096 });
    const { server, worker } = await cluster(
      () => [serverKc],
      () => [workerKc],
    );
    const [s, w] = await Promise.all([server, worker]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    const listA = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i * 2));
    const listB = BigUint64Array.from({ length: 100 }, (_, i) => BigInt(i * 2 + 1));
    const ones = new Float32Array(100).fill(1);
    for (let round = 0; round < 3; round++) {
      await w.worker.wait(w.worker.push({ keys: listA, vals: ones }));
      await w.worker.wait(w.worker.push({ keys: listB, vals: ones }));
    }
    const a = await w.worker.wait(w.worker.pull(listA));
    const b = await w.worker.wait(w.worker.pull(listB));
    expect([...a.vals]).toEqual(new Array(100).fill(3));
    expect([...b.vals]).toEqual(new Array(100).fill(3));
    expect(serverKc.stats.misses).toBeGreaterThan(0);
    // With matching limits nothing is missed and repeated lists travel as signatures.
    const { server: s2, worker: w2 } = await cluster(
      () => [keyCaching()],
      () => [keyCaching()],
    );
    const [t, v] = await Promise.all([s2, w2]);
    closers.push(
      () => t.node.close(),
      () => v.node.close(),
    );
    for (let round = 0; round < 3; round++) await v.worker.wait(v.worker.push({ keys: listA, vals: ones }));
    expect([...(await v.worker.wait(v.worker.pull(listA))).vals]).toEqual(new Array(100).fill(3));
  });

  it('runs a chain per app: a lossy chain on app 0 leaves app 1 exact', async () => {
    const hub = new InprocHub();
    const scheduler = await Scheduler.start({
      transport: inproc({ hub }),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const common = { scheduler: at, logger: quiet, appFilters: { 1: [] } };
    const [s, w] = await Promise.all([
      createServer({
        ...common,
        transport: inproc({ hub }),
        handler: { 0: sumHandler(), 1: sumHandler() },
        filters: [quantize({ bits: 8 })],
      }),
      createWorker({ ...common, transport: inproc({ hub }), apps: [0, 1], filters: [quantize({ bits: 8 })] }),
    ]);
    closers.push(
      () => s.node.close(),
      () => w.node.close(),
    );
    const [lossy, exact] = w.workers;
    const keys = BigUint64Array.from({ length: 64 }, (_, i) => BigInt(i * 3 + 1));
    const vals = Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i + 0.5) * 1000.123));
    await Promise.all([lossy!.wait(lossy!.push({ keys, vals })), exact!.wait(exact!.push({ keys, vals }))]);
    const [q, e] = await Promise.all([lossy!.wait(lossy!.pull(keys)), exact!.wait(exact!.pull(keys))]);
    expect([...e.vals]).toEqual([...vals]);
    // The quantizer did run on app 0 (8 bits cannot carry these values exactly).
    expect([...q.vals].filter((v, i) => v !== vals[i]).length).toBeGreaterThan(32);
  });

  it('refuses a node whose per-app chains differ from the cluster', async () => {
    const hub = new InprocHub();
    const scheduler = await Scheduler.start({
      transport: inproc({ hub }),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const common = { scheduler: at, logger: quiet, filters: [quantize({ bits: 8 })], startTimeoutMs: 3_000 };
    const results = await Promise.allSettled([
      createServer({ ...common, transport: inproc({ hub }), handler: sumHandler(), appFilters: { 1: [] } }),
      createWorker({ ...common, transport: inproc({ hub }) }),
    ]);
    for (const r of results) if (r.status === 'fulfilled') closers.push(() => r.value.node.close());
    // Whichever registered second is refused, naming both signatures.
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    const mismatch = refused.filter((e) => isPsError(e, PsErrorCode.FILTER_MISMATCH));
    expect(mismatch).toHaveLength(1);
    expect(mismatch[0]!.message).toContain("'quantize:8;1='");
    expect(mismatch[0]!.message).toContain("'quantize:8'");
  });
});
