// Per-role secrets (RoleSecrets): servers and workers prove different secrets, so the workers'
// secret cannot register a server nor pass for a server towards another server. Nodes in the
// test process over real TCP on 127.0.0.1, then the `pskv` CLI's path: role processes spawned
// with --server-secret-file / --worker-secret-file.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const SERVERS = 'servers-secret-0123456789abcdef';
const WORKERS = 'workers-secret-0123456789abcdef';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
  await killAll();
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

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
// Debian's liblinear-tools ships LIBSVM's heart_scale (270 rows, 13 features).
const heartScale = '/usr/share/doc/liblinear-tools/examples/heart_scale';

describe('per-role secrets through pskv', () => {
  let dir = '';
  let serverFile = '';
  let workerFile = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pskv-roles-'));
    serverFile = join(dir, 'servers.secret');
    workerFile = join(dir, 'workers.secret');
    await writeFile(serverFile, `${SERVERS}\n`);
    await writeFile(workerFile, `${WORKERS}\n`);
    await Promise.all([chmod(serverFile, 0o600), chmod(workerFile, 0o600)]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A scheduler of one server and one worker (`pskv start`), holding both secrets. */
  async function scheduler() {
    const env = {
      PS_ROLE: 'scheduler',
      PS_SCHEDULER: '127.0.0.1:0',
      PS_NUM_SERVERS: '1',
      PS_NUM_WORKERS: '1',
    };
    const p = spawnNode(cli, env, [
      'start',
      '--server-secret-file',
      serverFile,
      '--worker-secret-file',
      workerFile,
    ]);
    const { port } = await p.waitFor<{ type: string; port: number }>((o) => o.type === 'listening');
    return { p, env: { ...env, PS_SCHEDULER: `127.0.0.1:${port}` } };
  }

  it("a process holding only the workers' secret cannot register as a server, however it presents it", async () => {
    const s = await scheduler();
    const server = { ...s.env, PS_ROLE: 'server' };
    // The workers' secret as the one cluster secret: it proves no role; the scheduler refuses.
    const single = spawnNode(cli, server, ['start', '--secret-file', workerFile]);
    expect(await exitCode(single, 30_000)).toBe(1);
    expect(single.stderr.join('\n')).toMatch(
      /ps-server: PS_ERR_AUTH: .*proves no role, but this cluster has a secret per role/,
    );
    // The workers' secret passed off as the servers': the scheduler's proof fails, refused.
    const other = join(dir, 'guess.secret');
    await writeFile(other, 'a-guessed-secret-0123456789');
    await chmod(other, 0o600);
    const posing = spawnNode(cli, server, [
      'start',
      '--server-secret-file',
      workerFile,
      '--worker-secret-file',
      other,
    ]);
    expect(await exitCode(posing, 30_000)).toBe(1);
    expect(posing.stderr.join('\n')).toMatch(/ps-server: PS_ERR_AUTH: .*different secrets/);
    // The workers' secret alone as a server: refused before it dials.
    const alone = spawnNode(cli, server, ['start', '--worker-secret-file', workerFile]);
    expect(await exitCode(alone, 30_000)).toBe(1);
    expect(alone.stderr.join('\n')).toContain(
      "ps-server: PS_ERR_CONFIG: RoleSecrets: a server needs the servers' secret",
    );
    // A worker given the servers' secret refuses to hold it.
    const greedy = spawnNode(cli, { ...s.env, PS_ROLE: 'worker' }, [
      'start',
      '--server-secret-file',
      serverFile,
      '--worker-secret-file',
      workerFile,
    ]);
    expect(await exitCode(greedy, 30_000)).toBe(1);
    expect(greedy.stderr.join('\n')).toContain("a worker must not hold the servers' secret");
    // The scheduler saw the refused ones and still waits for its real server: nothing joined.
    expect(s.p.child.exitCode).toBe(null);
    expect(s.p.stderr.join('\n')).toMatch(/rejected input: PS_ERR_AUTH/);
  }, 120_000);

  it("pskv slr with per-role secrets trains; its workers are given the workers' secret only", async () => {
    expect(existsSync(heartScale), `${heartScale} (apt-get install liblinear-tools)`).toBe(true);
    const job = spawnNode(cli, { PS_SECRET: 'a-single-secret-that-must-not-leak' }, [
      'slr',
      '--dataset',
      heartScale,
      '--transport',
      'tcp',
      '--server-secret-file',
      serverFile,
      '--worker-secret-file',
      workerFile,
      '--json',
    ]);
    // PS_SECRET in the launcher's environment and per-role files: refused, one form or the other.
    expect(await exitCode(job, 30_000)).toBe(2);
    expect(job.stderr.join('\n')).toMatch(/either one cluster secret .* or per-role secrets/);

    const ok = spawnNode(cli, {}, [
      'slr',
      '--dataset',
      heartScale,
      '--transport',
      'tcp',
      '--server-secret-file',
      serverFile,
      '--worker-secret-file',
      workerFile,
      '--json',
    ]);
    const line = await new Promise<string>((resolve, reject) => {
      const started = Date.now();
      const look = () => {
        const l = ok.stderr.find((x) => x.startsWith('processes: '));
        if (l) resolve(l);
        else if (ok.child.exitCode !== null || Date.now() - started > 60_000)
          reject(new Error(`no processes line; stderr:\n${ok.stderr.join('\n')}`));
        else setTimeout(look, 20);
      };
      look();
    });
    // "processes: ps-scheduler 11, ps-server (1/2) 12, ..., ps-worker (2/2) 15"
    const roles = [...line.matchAll(/ps-(scheduler|server|worker)[^,]*? (\d+)(?=,|$)/g)].map((m) => ({
      role: m[1]!,
      pid: Number(m[2]),
    }));
    expect(roles.map((r) => r.role).sort()).toEqual(['scheduler', 'server', 'server', 'worker', 'worker']);
    for (const { role, pid } of roles) {
      const vars = readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .map((kv) => kv.split('=')[0]!)
        .filter((k) => k.includes('SECRET'))
        .sort();
      expect(vars, `${role} ${pid}`).toEqual(
        role === 'worker' ? ['PS_WORKER_SECRET_FILE'] : ['PS_SERVER_SECRET_FILE', 'PS_WORKER_SECRET_FILE'],
      );
    }
    expect(await exitCode(ok, 120_000)).toBe(0);
    expect(ok.stderr.join('\n')).toContain(
      "connections authenticated with per-role secrets (workers hold the workers' only)",
    );
    const summary = JSON.parse(ok.lines.at(-1)!) as { accuracy: number; rows_train: number };
    expect(summary.rows_train).toBe(216);
    expect(summary.accuracy).toBeGreaterThanOrEqual(0.78);
  }, 180_000);
});
