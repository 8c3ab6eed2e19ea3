import { describe, expectTypeOf, it } from 'vitest';
import {
  type CreatedServer,
  type CreatedWorker,
  type CreateWorkerOptions,
  createServer,
  createWorker,
} from './create-node.js';
import type { KVServer } from './kv-server.js';
import type { KVWorker } from './kv-worker.js';
import type { PsNode } from './ps-node.js';
import type { KVPairs, ValArray, ValArrayOf } from './wire/kv-pairs.js';

// Type-level tests: `npm run typecheck` (tsc over src, tests included) fails when a type drifts.
// The runtime shape is tested over a real cluster in test/cluster-fill.test.ts.

type Pulled<W> = W extends KVWorker<infer V> ? Awaited<ReturnType<W['wait']>> & KVPairs<V> : never;
type WorkerOf<D extends 'float32' | 'float64' | undefined> = Awaited<
  ReturnType<typeof createWorker<D>>
>['worker'];

describe('createServer and createWorker types', () => {
  it('types pulled values by the declared dtype', () => {
    expectTypeOf<ValArrayOf<'float32'>>().toEqualTypeOf<Float32Array>();
    expectTypeOf<ValArrayOf<'float64'>>().toEqualTypeOf<Float64Array>();
    expectTypeOf<ValArrayOf<undefined>>().toEqualTypeOf<ValArray>();

    expectTypeOf<WorkerOf<'float32'>>().toEqualTypeOf<KVWorker<Float32Array>>();
    expectTypeOf<WorkerOf<'float64'>>().toEqualTypeOf<KVWorker<Float64Array>>();
    expectTypeOf<WorkerOf<undefined>>().toEqualTypeOf<KVWorker<ValArray>>();

    // What `(await worker.wait(worker.pull(keys))).vals` is, without a cast.
    const pullVals = (w: KVWorker<Float32Array>, keys: BigUint64Array) =>
      w.wait(w.pull(keys)).then((r) => r.vals);
    expectTypeOf(pullVals).returns.resolves.toEqualTypeOf<Float32Array>();
    const pushPullVals = (w: KVWorker<Float64Array>, kv: KVPairs) =>
      w.wait(w.pushPull(kv)).then((r) => r.vals);
    expectTypeOf(pushPullVals).returns.resolves.toEqualTypeOf<Float64Array>();
    expectTypeOf<ReturnType<KVWorker<Float32Array>['pull$']>>().toHaveProperty('subscribe');
    expectTypeOf<Pulled<KVWorker<Float32Array>>['vals']>().toEqualTypeOf<Float32Array>();
    // A push resolves to nothing, whatever the dtype.
    const pushed = (w: KVWorker<Float32Array>, kv: KVPairs) => w.wait(w.push(kv));
    expectTypeOf(pushed).returns.resolves.toEqualTypeOf<void>();
  });

  it('infers the dtype from the option, and a typed worker still fits where a KVWorker is taken', () => {
    const start = () =>
      createWorker({ transport: undefined as never, scheduler: { host: 'h', port: 1 }, dtype: 'float32' });
    expectTypeOf(start).returns.resolves.toEqualTypeOf<CreatedWorker<Float32Array>>();
    expectTypeOf<KVWorker<Float32Array>>().toExtend<KVWorker>();
    expectTypeOf<CreateWorkerOptions<'float64'>['dtype']>().toEqualTypeOf<'float64' | undefined>();
  });

  it('gives both the same shape: node, the first app, and every app', () => {
    expectTypeOf(createServer).returns.resolves.toEqualTypeOf<CreatedServer>();
    expectTypeOf<CreatedServer>().toEqualTypeOf<{ node: PsNode; server: KVServer; servers: KVServer[] }>();
    expectTypeOf<CreatedWorker<Float32Array>>().toEqualTypeOf<{
      node: PsNode;
      worker: KVWorker<Float32Array>;
      workers: KVWorker<Float32Array>[];
    }>();
    expectTypeOf<keyof CreatedServer>().toEqualTypeOf<'node' | 'server' | 'servers'>();
    expectTypeOf<keyof CreatedWorker>().toEqualTypeOf<'node' | 'worker' | 'workers'>();
  });
});
