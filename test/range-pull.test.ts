// `worker.pullRange({ begin, end })`: every stored key of a key range, sliced by the ring across
// 3 servers and joined in key order, over every transport (inproc, TCP and WebSocket on
// 127.0.0.1), whole and in pages; through a filter chain; after a failover to a replica (the part
// of the range sent to the dead server is pulled again on the new ring); and its errors.
import {
  createServer,
  createWorker,
  type Filter,
  isPsError,
  type KVWorker,
  PsErrorCode,
  type PsNode,
  type RangePage,
  type RequestHandler,
  Scheduler,
  sumHandler,
  type Transport,
} from '@ps/core';
import { keyCaching, lz4, quantize, significantUpdate } from '@ps/filters';
import { InprocHub, inproc } from '@ps/transport-inproc';
import { tcp } from '@ps/transport-tcp';
import { ws } from '@ps/transport-ws';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, quiet } from './helpers/closers.js';

const closers = closeAfterEach();

type Kind = 'inproc' | 'tcp' | 'ws';

interface ClusterOpts {
  numServers?: number;
  replicas?: number;
  heartbeatTimeoutMs?: number;
  filters?: () => Filter[];
  handler?: () => RequestHandler;
}

async function cluster(kind: Kind, opts: ClusterOpts = {}) {
  const hub = new InprocHub();
  const make = (): Transport => (kind === 'inproc' ? inproc({ hub }) : kind === 'tcp' ? tcp() : ws());
  const numServers = opts.numServers ?? 3;
  const scheduler = await Scheduler.start({
    transport: make(),
    numServers,
    numWorkers: 1,
    logger: quiet,
    ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
    ...(opts.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: opts.heartbeatTimeoutMs } : {}),
  });
  closers.push(() => scheduler.shutdown());
  const at = { host: '127.0.0.1', port: scheduler.address.port };
  const base = { scheduler: at, logger: quiet, heartbeatIntervalMs: 100 };
  const filters = () => (opts.filters ? { filters: opts.filters() } : {});
  // Every role starts before any is awaited: each resolves once the cluster is full.
  const [w, ...servers] = await Promise.all([
    createWorker({ ...base, ...filters(), transport: make() }),
    ...Array.from({ length: numServers }, () =>
      createServer({ ...base, ...filters(), transport: make(), handler: opts.handler?.() ?? sumHandler() }),
    ),
  ]);
  for (const x of [w, ...servers]) closers.push(() => x.node.close());
  return { worker: w.worker as KVWorker<Float32Array>, node: w.node, servers };
}

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
/** `n` keys spread over the whole key space (every server owns some), plus a few small ones. */
function spread(n: number): BigUint64Array {
  const step = (1n << 64n) / BigInt(n);
  const keys = Array.from({ length: n }, (_, i) => BigInt(i) * step + BigInt(i % 7));
  return BigUint64Array.from([...new Set([...keys, 1n, 2n, 3n])].sort(cmp));
}
/** Two values per key, exact in float32 and different for every key. */
const valsOf = (keys: BigUint64Array) => Float32Array.from({ length: 2 * keys.length }, (_, i) => i + 0.5);

async function pushAll(worker: KVWorker, keys: BigUint64Array): Promise<Float32Array> {
  const vals = valsOf(keys);
  await worker.wait(worker.push({ keys, vals }));
  return vals;
}

/** Keys in [begin, end) and their values, from the pushed ones. */
function expected(keys: BigUint64Array, vals: Float32Array, begin: bigint, end: bigint) {
  const ks: bigint[] = [];
  const vs: number[] = [];
  keys.forEach((k, i) => {
    if (k >= begin && k < end) {
      ks.push(k);
      vs.push(vals[2 * i]!, vals[2 * i + 1]!);
    }
  });
  return { keys: ks, vals: vs };
}

/** Pages through [begin, end) with `limit`, at most `maxPages` pages. */
async function pages(
  worker: KVWorker,
  begin: bigint,
  end: bigint,
  limit: number,
  maxPages: number,
  full = true,
) {
  const keys: bigint[] = [];
  const vals: number[] = [];
  let from: bigint | undefined = begin;
  let n = 0;
  while (from !== undefined) {
    if (++n > maxPages) throw new Error(`more than ${maxPages} pages`);
    const page: RangePage = await worker.wait(worker.pullRange({ begin: from, end }, { limit }));
    expect(page.keys.length).toBeLessThanOrEqual(limit);
    if (full && page.next !== undefined) expect(page.keys.length).toBe(limit);
    keys.push(...page.keys);
    vals.push(...page.vals);
    from = page.next;
  }
  return { keys, vals, pages: n };
}

const END = 1n << 64n;

describe.each(['inproc', 'tcp', 'ws'] as const)('pullRange over %s, 3 servers', (kind) => {
  it('pulls the stored keys of ranges that cross server boundaries, whole and in pages, in key order', async () => {
    const { worker, node } = await cluster(kind);
    const keys = spread(300);
    const vals = await pushAll(worker, keys);
    // Ranges across several servers' ranges of the ring, within one, and empty.
    const owned = node.view.ring.ranges();
    expect(new Set(owned.map((r) => r.owner)).size).toBe(3);
    const mid = owned[Math.floor(owned.length / 2)]!;
    const ranges: [bigint, bigint][] = [
      [0n, END],
      [keys[10]!, keys[250]!],
      [keys[10]! + 1n, keys[250]! + 1n],
      [mid.begin, mid.end],
      [5n, 5n],
      [END, END],
    ];
    for (const [begin, end] of ranges) {
      const want = expected(keys, vals, begin, end);
      const whole = await worker.wait(worker.pullRange({ begin, end }));
      expect(Array.from(whole.keys)).toEqual(want.keys);
      expect(Array.from(whole.vals)).toEqual(want.vals);
      expect(whole.vals).toBeInstanceOf(Float32Array);
      expect(whole.lens).toBeUndefined();
      expect(whole.next).toBeUndefined();
      const paged = await pages(worker, begin, end, 17, 40);
      expect(paged.keys).toEqual(want.keys);
      expect(paged.vals).toEqual(want.vals);
      expect(paged.pages).toBe(Math.max(1, Math.ceil(want.keys.length / 17)));
    }
  });
});

describe('pullRange', () => {
  it('returns lens when keys hold different numbers of values', async () => {
    const { worker } = await cluster('inproc');
    const keys = spread(60);
    const lens = Int32Array.from(keys, (_, i) => (i % 3) + 1);
    const total = lens.reduce((a, b) => a + b, 0);
    const vals = Float32Array.from({ length: total }, (_, i) => i);
    await worker.wait(worker.push({ keys, vals, lens }));
    const got = await worker.wait(worker.pullRange({ begin: 0n, end: END }));
    expect(Array.from(got.keys)).toEqual(Array.from(keys));
    expect(Array.from(got.lens!)).toEqual(Array.from(lens));
    expect(Array.from(got.vals)).toEqual(Array.from(vals));
  });

  it('passes the filter chain: lossless filters give exact values, quantize values within its bound', async () => {
    const lossless = await cluster('tcp', {
      filters: () => [keyCaching(), significantUpdate({ threshold: 0 }), lz4()],
    });
    const keys = spread(400);
    const vals = await pushAll(lossless.worker, keys);
    const got = await lossless.worker.wait(lossless.worker.pullRange({ begin: 0n, end: END }));
    expect(Array.from(got.keys)).toEqual(Array.from(keys));
    expect(Array.from(got.vals)).toEqual(Array.from(vals));
    // A pull of named keys still works beside it through the same chain.
    const pulled = await lossless.worker.wait(lossless.worker.pull(keys));
    expect(Array.from(pulled.vals)).toEqual(Array.from(vals));

    const lossy = await cluster('tcp', { filters: () => [quantize({ bits: 8 })] });
    const vals2 = await pushAll(lossy.worker, keys);
    const q = await lossy.worker.wait(lossy.worker.pullRange({ begin: 0n, end: END }, { limit: 1000 }));
    expect(Array.from(q.keys)).toEqual(Array.from(keys));
    // The push and each server's answer are quantized over their own [min, max], within
    // [0, max of all]: at most one grid step each way.
    const step = (2 * vals2[vals2.length - 1]!) / 255;
    expect(q.vals.length).toBe(vals2.length);
    let worst = 0;
    for (let i = 0; i < vals2.length; i++) worst = Math.max(worst, Math.abs(q.vals[i]! - vals2[i]!));
    expect(worst).toBeLessThan(step);
    expect(worst).toBeGreaterThan(0); // the filter did run on the answer
  });

  it('pulls again on the new ring the part sent to a server that died (replicas: 1)', async () => {
    const { worker, node, servers } = await cluster('tcp', { replicas: 1, heartbeatTimeoutMs: 600 });
    const keys = spread(300);
    const vals = await pushAll(worker, keys);
    const victim: PsNode = servers[1]!.node;
    // Stop its answers and heartbeats without a goodbye: close its transport only.
    await (victim as unknown as { ep: { transport: { close(): Promise<void> } } }).ep.transport.close();
    const ts = worker.pullRange({ begin: 0n, end: END });
    const got = await worker.wait(ts);
    expect(node.currentView!.dead).toContain(victim.id);
    expect(node.currentView!.ring.servers).not.toContain(victim.id);
    expect(Array.from(got.keys)).toEqual(Array.from(keys));
    expect(Array.from(got.vals)).toEqual(Array.from(vals));
  });

  it('answers exactly while a fourth server joins and the ring changes under the range pulls', async () => {
    const scheduler = await Scheduler.start({
      transport: tcp(),
      numServers: 3,
      numWorkers: 1,
      replicas: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const server = () =>
      createServer({ transport: tcp(), scheduler: at, logger: quiet, handler: sumHandler() });
    const [w, ...servers] = await Promise.all([
      createWorker({ transport: tcp(), scheduler: at, logger: quiet }),
      server(),
      server(),
      server(),
    ]);
    for (const x of [w, ...servers]) closers.push(() => x.node.close());
    const worker = w.worker;
    const keys = spread(600);
    const vals = await pushAll(worker, keys);
    let joined = false;
    const extra = server().then((s) => {
      joined = true;
      closers.push(() => s.node.close());
      return s;
    });
    // Range pulls, one after another, until the join is done (bounded in count and time).
    const deadline = Date.now() + 60_000;
    let pulls = 0;
    while (!joined && pulls < 2000 && Date.now() < deadline) {
      const got = await worker.wait(worker.pullRange({ begin: 0n, end: END }, { limit: 250 }));
      expect(Array.from(got.keys)).toEqual(Array.from(keys.subarray(0, 250)));
      expect(Array.from(got.vals)).toEqual(Array.from(vals.subarray(0, 500)));
      pulls++;
    }
    const late = await extra;
    // The worker sees the new ring; every range pull after it reads all keys, the new server's too.
    await firstValueFrom(
      w.node.cluster$.pipe(
        filter((v) => v?.ring.servers.includes(late.node.id) === true),
        timeout(30_000),
      ),
    );
    expect(w.node.view.ring.servers).toContain(late.node.id);
    const after = await pages(worker, 0n, END, 250, 10);
    expect(after.keys).toEqual(Array.from(keys));
    expect(after.vals).toEqual(Array.from(vals));
  });

  it('refuses bad bounds synchronously with PS_ERR_RANGE_INVALID', async () => {
    const { worker } = await cluster('inproc', { numServers: 1 });
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isPsError(err) ? err.code : 'not a PsError';
      }
      return undefined;
    };
    expect(codeOf(() => worker.pullRange({ begin: 5n, end: 4n }))).toBe(PsErrorCode.RANGE_INVALID);
    expect(codeOf(() => worker.pullRange({ begin: 0n, end: END + 1n }))).toBe(PsErrorCode.RANGE_INVALID);
    expect(codeOf(() => worker.pullRange({ begin: 0, end: 10 } as never))).toBe(PsErrorCode.RANGE_INVALID);
    expect(codeOf(() => worker.pullRange({ begin: 0n, end: 10n }, { limit: 0 }))).toBe(
      PsErrorCode.RANGE_INVALID,
    );
    expect(codeOf(() => worker.pullRange({ begin: 0n, end: 10n }, { maxBytes: 1.5 }))).toBe(
      PsErrorCode.RANGE_INVALID,
    );
  });

  it('orders a range pull after the pushes it names (deps), and a refused one leaves the worker as it was', async () => {
    const { worker } = await cluster('inproc');
    const keys = spread(50);
    const pushed = worker.push({ keys, vals: valsOf(keys) });
    // Sent at once; each server answers after the push reached it.
    const got = await worker.wait(worker.pullRange({ begin: 0n, end: END }, { deps: [pushed], hold: false }));
    expect(Array.from(got.keys)).toEqual(Array.from(keys));
    expect(Array.from(got.vals)).toEqual(Array.from(valsOf(keys)));
    expect(() => worker.pullRange({ begin: 0n, end: END }, { deps: [1000] })).toThrow(/PS_ERR_DEPS/);
    const next = await worker.wait(worker.pull(keys.subarray(0, 2)));
    expect(Array.from(next.vals)).toEqual([0.5, 1.5, 2.5, 3.5]);
  });

  it('answers PS_ERR_RANGE_UNSUPPORTED from a custom handler', async () => {
    const custom: RequestHandler = (req) =>
      req.pull ? { keys: req.kv.keys, vals: new Float32Array(req.kv.keys.length) } : undefined;
    const { worker } = await cluster('inproc', { numServers: 1, handler: () => custom });
    const err = await worker.wait(worker.pullRange({ begin: 0n, end: END })).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.RANGE_UNSUPPORTED)).toBe(true);
  });

  it('fails a range larger than a frame with PS_ERR_RANGE_TOO_LARGE, and pages it under the frame limit', async () => {
    const scheduler = await Scheduler.start({
      transport: tcp(),
      numServers: 1,
      numWorkers: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const maxFrameBytes = 64 * 1024;
    const [s, w] = await Promise.all([
      createServer({ transport: tcp(), scheduler: at, logger: quiet, handler: sumHandler(), maxFrameBytes }),
      createWorker({ transport: tcp(), scheduler: at, logger: quiet, maxFrameBytes }),
    ]);
    closers.push(
      () => w.node.close(),
      () => s.node.close(),
    );
    const worker = w.worker;
    // 4,000 keys of 4 values: 28 bytes a key on the wire, 112,000 bytes in all.
    const keys = BigUint64Array.from({ length: 4000 }, (_, i) => BigInt(i) * 1000n);
    for (let i = 0; i < 4000; i += 1000) {
      const part = keys.subarray(i, i + 1000);
      await worker.wait(
        worker.push({ keys: part, vals: Float32Array.from({ length: 4000 }, (_, j) => i * 4 + j) }),
      );
    }
    const err = await worker.wait(worker.pullRange({ begin: 0n, end: END })).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.RANGE_TOO_LARGE)).toBe(true);
    expect((err as Error).message).toMatch(/limit/);
    // With a limit larger than a frame holds, the server stops at the frame's budget.
    const first = await worker.wait(worker.pullRange({ begin: 0n, end: END }, { limit: 4000 }));
    expect(first.keys.length).toBe(Math.floor((maxFrameBytes - 4096) / 28));
    expect(first.next).toBe(keys[first.keys.length]);
    const all = await pages(worker, 0n, END, 4000, 5, false);
    expect(all.keys).toEqual(Array.from(keys));
    expect(all.vals).toEqual(Array.from({ length: 16000 }, (_, j) => j));
  });
});
