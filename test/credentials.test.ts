// Per-role secrets (RoleSecrets): servers and workers prove different secrets, so the workers'
// secret cannot register a server nor pass for a server towards another server. Nodes in the
// test process over real TCP on 127.0.0.1.
import {
  createServer,
  createWorker,
  isPsError,
  PsErrorCode,
  RoleSecrets,
  Scheduler,
  sumHandler,
} from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';

const SERVERS = 'servers-secret-0123456789abcdef';
const WORKERS = 'workers-secret-0123456789abcdef';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
});

const both = { server: SERVERS, worker: WORKERS };

describe('per-role secrets', () => {
  it('trains with replicas; a worker secret cannot register a server nor act as one', async () => {
    const scheduler = await Scheduler.start({
      transport: tcp({ secret: new RoleSecrets('scheduler', both) }),
      numServers: 2,
      numWorkers: 1,
      replicas: 1,
      logger: quiet,
    });
    closers.push(() => scheduler.shutdown());
    const at = { host: '127.0.0.1', port: scheduler.address.port };
    const [s0, s1, w] = await Promise.all([
      ...[0, 1].map(() =>
        createServer({
          transport: tcp({ secret: new RoleSecrets('server', both) }),
          scheduler: at,
          logger: quiet,
          handler: sumHandler(),
        }),
      ),
      createWorker({
        transport: tcp({ secret: new RoleSecrets('worker', { worker: WORKERS }) }),
        scheduler: at,
        logger: quiet,
      }),
    ]);
    const servers = [s0!, s1!] as Awaited<ReturnType<typeof createServer>>[];
    const { node, worker } = w as Awaited<ReturnType<typeof createWorker>>;
    closers.push(...[...servers, { node }].map((x) => () => x.node.close()));
    const step = (1n << 64n) / 300n;
    const keys = BigUint64Array.from({ length: 300 }, (_, i) => BigInt(i) * step + 1n);
    const vals = Float32Array.from({ length: 300 }, (_, i) => i - 150);
    await worker.wait(worker.push({ keys, vals }));
    expect([...(await worker.wait(worker.pull(keys))).vals]).toEqual([...vals]);

    // A holder of the workers' secret asks to join as a server: refused at registration.
    const err = await createServer({
      transport: tcp({ secret: new RoleSecrets('worker', { worker: WORKERS }) }),
      scheduler: at,
      logger: quiet,
      handler: sumHandler(),
      startTimeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    expect((err as Error).message).toMatch(
      /proved the worker credential; a server needs the servers' secret/,
    );

    // Nor can it pass for a server towards a server: it proves the workers' credential there.
    const rogue = tcp({ secret: new RoleSecrets('worker', { worker: WORKERS }) });
    closers.push(() => rogue.close());
    await rogue.bind({ id: 'rogue-server', host: '127.0.0.1', port: 0 }, { listen: false });
    await rogue.connect({ host: '127.0.0.1', port: servers[0]!.node.address.port });
    const creds = (servers[0]!.node as unknown as { ep: { transport: { credentials?: unknown } } }).ep
      .transport.credentials;
    expect((creds as RoleSecrets).roleOf('rogue-server')).toBe('worker');
    expect((creds as RoleSecrets).roleOf(servers[1]!.node.id)).toBe('server');
    expect((creds as RoleSecrets).roleOf(node.id)).toBe('worker');
    expect([...(await worker.wait(worker.pull(keys))).vals]).toEqual([...vals]);
  }, 60_000);

  it('refuses RoleSecrets a role cannot hold, and two equal secrets', () => {
    expect(() => new RoleSecrets('server', { worker: WORKERS })).toThrow(/servers' secret/);
    expect(() => new RoleSecrets('worker', both)).toThrow(/must not hold the servers' secret/);
    expect(() => new RoleSecrets('scheduler', { server: SERVERS, worker: SERVERS })).toThrow(/are the same/);
    expect(String(new RoleSecrets('worker', { worker: WORKERS }))).toBe('[ClusterSecret]');
  });
});
