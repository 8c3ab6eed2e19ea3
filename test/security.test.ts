// Who may join a cluster: the cluster secret, roles, limits and TLS, against a scheduler and a
// server running as separate OS processes over TCP on 127.0.0.1 (the built packages), with the
// worker in this process. Every attack ends the same way: the attacker is refused and logged,
// the server keeps serving, and a pull returns exactly what the real worker pushed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createServer,
  createWorker,
  encodeFrame,
  encodeHello,
  FRAME_VERSION,
  isPsError,
  type KVWorker,
  type Logger,
  type Meta,
  type NodeId,
  PsErrorCode,
  type PsNode,
  Scheduler,
  type Segment,
  sumHandler,
  type Transport,
} from '@ps/core';
import { selfSignedCertificate } from '@ps/core/testing';
import { type TcpTransportOptions, tcp } from '@ps/transport-tcp';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/kv-node.mjs', import.meta.url));
const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));
const SECRET = 'this cluster secret is 38 bytes long';
const WRONG = 'a wrong secret that is long enough';

const made: Transport[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(made.splice(0).map((t) => t.close()));
  await killAll();
});

let dir: string;
let pem: { cert: string; key: string };
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ps-security-'));
  pem = await selfSignedCertificate();
  for (const [name, text] of [
    ['cert.pem', pem.cert],
    ['key.pem', pem.key],
  ] as const) {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A logger that keeps what it is told (the in-test worker's warnings stay out of the output). */
function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string) => void lines.push(m);
  return { lines, debug: () => undefined, info: () => undefined, warn: keep, error: keep };
}

const transport = (opts: TcpTransportOptions = {}) => {
  const t = tcp(opts);
  made.push(t);
  return t;
};

const keys = new BigUint64Array([1n, 2n, 3n]);
const values = (w: KVWorker) => w.wait(w.pull(keys)).then((r) => Array.from(r.vals));

interface Cluster {
  scheduler: Proc;
  server: Proc;
  node: PsNode;
  worker: KVWorker;
  schedulerPort: number;
  serverPort: number;
  log: string[];
}

/**
 * A scheduler and a server as processes with the secret (and `serverEnv`), and the worker here;
 * the worker pushes [1, 2, 3] twice, so the table holds [2, 4, 6].
 */
async function startCluster(serverEnv: Record<string, string> = {}): Promise<Cluster> {
  const common = { PS_NUM_SERVERS: '1', PS_NUM_WORKERS: '1', PS_SECRET: SECRET };
  const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
  const { port: schedulerPort } = await scheduler.waitFor<{ event: string; port: number }>(
    (o) => o.event === 'listening',
  );
  const server = spawnNode(script, {
    ...common,
    ...serverEnv,
    PS_ROLE: 'server',
    PS_SCHEDULER: `127.0.0.1:${schedulerPort}`,
  });
  const logger = memoryLogger();
  const { node, worker } = await createWorker({
    transport: transport({ secret: SECRET }),
    scheduler: { host: '127.0.0.1', port: schedulerPort },
    logger,
  });
  const { port: serverPort } = await server.waitFor<{ event: string; port: number }>(
    (o) => o.event === 'listening',
  );
  const vals = new Float32Array([1, 2, 3]);
  await worker.wait(worker.push({ keys, vals }));
  await worker.wait(worker.push({ keys, vals }));
  expect(await values(worker)).toEqual([2, 4, 6]);
  return { scheduler, server, node, worker, schedulerPort, serverPort, log: logger.lines };
}

/** The table is what the worker pushed; the server still serves; the cluster ends cleanly. */
async function expectUnchangedAndServing(c: Cluster, want = [2, 4, 6]): Promise<void> {
  expect(await values(c.worker)).toEqual(want);
  await c.worker.wait(c.worker.push({ keys, vals: new Float32Array([1, 2, 3]) }));
  expect(await values(c.worker)).toEqual(want.map((v, i) => v + i + 1));
  await c.node.finalize();
  expect(await exitCode(c.server)).toBe(0);
  expect(await exitCode(c.scheduler)).toBe(0);
}

function rawSocket(port: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.resume(); // a socket nobody reads from never sees the peer's FIN
  sockets.push(s);
  return s;
}
const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
const lengthPrefixed = (bytes: Uint8Array) => {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(bytes.byteLength);
  return Buffer.concat([prefix, bytes]);
};
const meta = (m: Partial<Meta>): Meta => ({
  sender: '',
  recipient: '',
  app: 0,
  ts: 1,
  request: true,
  push: false,
  pull: false,
  ...m,
});
const frame = (m: Partial<Meta>, data: Segment[] = []) => encodeFrame({ meta: meta(m), data });

async function waitForLine(p: Proc, re: RegExp, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!p.stderr.some((l) => re.test(l)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  expect(p.stderr.join('\n')).toMatch(re);
}

describe('the cluster secret', () => {
  it('refuses a wrong secret, no secret, and a plain hello, with PS_ERR_AUTH, logged; the table is unchanged', async () => {
    const c = await startCluster();
    const server = { host: '127.0.0.1', port: c.serverPort };
    const scheduler = { host: '127.0.0.1', port: c.schedulerPort };
    for (const secret of [WRONG, undefined]) {
      const t = transport(secret ? { secret } : {});
      await t.bind(
        { id: `mallory-${secret ? 'wrong' : 'none'}`, host: '127.0.0.1', port: 0 },
        { listen: false },
      );
      for (const at of [server, scheduler]) {
        const err = await t.connect(at).catch((e: unknown) => e);
        expect(isPsError(err, PsErrorCode.AUTH), String(err)).toBe(true);
      }
    }
    // A whole node with the wrong secret cannot join.
    const joined = await createWorker({
      transport: transport({ secret: WRONG }),
      scheduler,
      logger: memoryLogger(),
    }).catch((e: unknown) => e);
    expect(isPsError(joined, PsErrorCode.AUTH)).toBe(true);
    // A plain hello followed at once by a push: refused before the push is read.
    const raw = rawSocket(c.serverPort);
    raw.write(lengthPrefixed(encodeHello('intruder')));
    raw.write(lengthPrefixed(Buffer.concat(frame({ push: true }, [keys, new Float32Array([50, 50, 50])]))));
    await closed(raw);
    await waitForLine(c.server, /PS_ERR_AUTH: .*has no cluster secret/);
    await waitForLine(c.server, /PS_ERR_AUTH: .*(different secrets|refused this|could not prove)/);
    await waitForLine(c.scheduler, /PS_ERR_AUTH/);
    await expectUnchangedAndServing(c);
  });

  it('refuses a recorded handshake replayed on a new connection; the recorded push is not applied again', async () => {
    const c = await startCluster();
    // A legitimate holder of the secret pushes through a proxy that records its bytes.
    const recorded: Buffer[] = [];
    const proxy = net.createServer((down) => {
      const up = net.connect(c.serverPort, '127.0.0.1');
      const end = () => {
        down.destroy();
        up.destroy();
      };
      down.on('data', (d: Buffer) => {
        recorded.push(d);
        up.write(d);
      });
      up.on('data', (d: Buffer) => down.write(d));
      for (const s of [down, up]) {
        s.on('close', end);
        s.on('error', end);
      }
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    const spy = transport({ secret: SECRET });
    await spy.bind({ id: 'spied-on', host: '127.0.0.1', port: 0 }, { listen: false });
    const serverId = await spy.connect({ host: '127.0.0.1', port: proxyPort });
    const answered = firstValueFrom(spy.frames$.pipe(take(1), timeout(10_000)));
    await spy.send(serverId, frame({ push: true }, [keys, new Float32Array([100, 0, 0])]));
    await answered;
    await spy.close();
    await new Promise((r) => proxy.close(r));
    expect(await values(c.worker)).toEqual([102, 4, 6]);

    const stream = Buffer.concat(recorded);
    const frames: Buffer[] = [];
    for (let o = 0; o + 4 <= stream.length; ) {
      const n = stream.readUInt32LE(o);
      frames.push(stream.subarray(o, o + 4 + n));
      o += 4 + n;
    }
    expect(frames.length).toBe(3); // hello, proof, push

    // Replayed all at once: the proof comes before it was asked for.
    const blunt = rawSocket(c.serverPort);
    blunt.write(stream);
    await closed(blunt);
    // Replayed step by step, as a careful attacker would: the server's nonce is new, so the old
    // proof does not match.
    const careful = rawSocket(c.serverPort);
    let got = 0;
    careful.on('data', (d: Buffer) => (got += d.byteLength));
    careful.write(frames[0]!);
    for (let i = 0; i < 200 && got === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toBeGreaterThan(0); // the server's hello with its proof
    careful.write(frames[1]!);
    await closed(careful); // refused: the push behind the proof never gets read
    careful.destroy();
    await waitForLine(c.server, /PS_ERR_AUTH: .*failed to prove .*replayed/);
    await expectUnchangedAndServing(c, [102, 4, 6]);
  });
});

describe('roles', () => {
  it('a worker posing as the scheduler or a server cannot act as one; the table and the view are unchanged', async () => {
    const c = await startCluster();
    const view = c.node.view;
    const server = { host: '127.0.0.1', port: c.serverPort };
    const scheduler = { host: '127.0.0.1', port: c.schedulerPort };

    // It holds the secret, but the server reaches the scheduler over its own connection.
    const asScheduler = transport({ secret: SECRET });
    await asScheduler.bind({ id: 'scheduler', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await asScheduler.connect(server).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.AUTH)).toBe(true);
    await waitForLine(c.server, /PS_ERR_AUTH: .*claims to be scheduler/);

    // Under its own name it may talk to the server, but its commands are ignored...
    const rogue = transport({ secret: SECRET });
    await rogue.bind({ id: 'rogue-worker', host: '127.0.0.1', port: 0 }, { listen: false });
    const serverId = await rogue.connect(server);
    const fake = { version: 99, servers: [], workers: [], ranges: [], dead: [] };
    for (const cmd of ['terminate', 'cluster', 'barrier-done'] as const) {
      await rogue.send(serverId, frame({ cmd, request: false, body: cmd === 'cluster' ? fake : undefined }));
    }
    // ...and so are answers it sends as if it were a server.
    await rogue.send(serverId, frame({ request: false, push: true }, [keys, new Float32Array([9, 9, 9])]));
    await waitForLine(c.server, /control command terminate from rogue-worker ignored/);
    // A worker cannot act as a server towards a server either: forwards and range copies from
    // a node that is not a server of the cluster are ignored.
    for (const cmd of ['replicate', 'range-copy'] as const) {
      await rogue.send(serverId, frame({ cmd, push: true }, [keys, new Float32Array([7, 7, 7])]));
    }
    await waitForLine(c.server, /replicate from rogue-worker ignored: only servers of this cluster/);
    await waitForLine(c.server, /range-copy from rogue-worker ignored: only servers of this cluster/);
    await waitForLine(c.server, /has no worker here; dropped/);

    // A registered worker cannot register again as a server, nor send the scheduler's commands.
    const asWorker = transport({ secret: SECRET, reconnectWindowMs: 1000 });
    await asWorker.bind({ id: c.node.id, host: '127.0.0.1', port: 0 }, { listen: false });
    await asWorker.connect(scheduler);
    await asWorker.send(
      'scheduler',
      frame({ cmd: 'register', body: { role: 'server', host: '127.0.0.1', port: 1 } }),
    );
    await asWorker.send('scheduler', frame({ cmd: 'terminate', request: false }));
    await waitForLine(c.scheduler, new RegExp(`worker ${c.node.id} asked to register as a server; ignored`));
    await asWorker.close();
    expect(c.node.view.version).toBe(view.version);
    expect(c.node.view.servers).toEqual(view.servers);
    expect(c.node.view.workers).toEqual(view.workers);
    await expectUnchangedAndServing(c);
  });

  it('a node ignores commands from a "scheduler" that connected before the node joined', async () => {
    const logger = memoryLogger();
    const sched = await Scheduler.start({
      transport: transport({ secret: SECRET }),
      numServers: 1,
      numWorkers: 1,
      logger: memoryLogger(),
    });
    const at = { host: '127.0.0.1', port: sched.address.port };
    const { PsNode, KVServer } = await import('@ps/core');
    const node = await PsNode.create({
      role: 'server',
      transport: transport({ secret: SECRET }),
      scheduler: at,
      logger,
    });
    new KVServer(node, { handler: sumHandler() });
    // Before start(), nothing tells the node who the scheduler is: an impostor gets in...
    const impostor = transport({ secret: SECRET });
    await impostor.bind({ id: 'scheduler', host: '127.0.0.1', port: 0 }, { listen: false });
    const nodeId: NodeId = await impostor.connect({ host: '127.0.0.1', port: node.address.port });
    await impostor.send(nodeId, frame({ cmd: 'terminate', request: false }));
    const stopped = await Promise.race([
      node.terminated.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 300)),
    ]);
    // ...but its commands are ignored, and joining the cluster drops its connection.
    expect(stopped).toBe(false);
    expect(logger.lines.join('\n')).toMatch(/control command terminate from scheduler ignored/);
    const lost = firstValueFrom(
      impostor.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(10_000),
      ),
    );
    const [, { node: wnode, worker }] = await Promise.all([
      node.start(),
      createWorker({ transport: transport({ secret: SECRET }), scheduler: at, logger: memoryLogger() }),
    ]);
    await lost;
    await worker.wait(worker.push({ keys, vals: new Float32Array([1, 2, 3]) }));
    expect(await values(worker)).toEqual([1, 2, 3]);
    await wnode.finalize();
    await node.terminated;
    expect(node.terminationError).toBeUndefined();
  });
});

describe('bad input and limits', () => {
  it('garbage before and after the handshake, and a frame above maxFrameBytes, do not stop the server', async () => {
    const c = await startCluster({ KV_MAX_FRAME_BYTES: String(64 * 1024) });
    const http = rawSocket(c.serverPort);
    http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const noHello = rawSocket(c.serverPort);
    noHello.write(lengthPrefixed(Buffer.from('hello there')));
    const huge = rawSocket(c.serverPort);
    huge.write(Buffer.from([0xff, 0xff, 0xff, 0x7f]));
    await Promise.all([closed(http), closed(noHello), closed(huge)]);

    // A holder of the secret sends garbage: rejected frame by frame, the connection stays usable.
    const t = transport({ secret: SECRET });
    await t.bind({ id: 'garbler', host: '127.0.0.1', port: 0 }, { listen: false });
    const serverId = await t.connect({ host: '127.0.0.1', port: c.serverPort });
    await t.send(serverId, [
      Uint8Array.from([0x50, 0x53, FRAME_VERSION, 9, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
    ]);
    await t.send(serverId, [Uint8Array.from([0x50, 0x53, FRAME_VERSION, 1, 200, 0, 0, 0])]);
    await t.send(serverId, [Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9])]);
    await t.send(serverId, frame({ push: true }, [new Float32Array([1]), new Float32Array([5])]));
    const answer = firstValueFrom(t.frames$.pipe(take(1), timeout(10_000)));
    await t.send(serverId, frame({ pull: true, ts: 7 }, [keys]));
    expect((await answer).from).toBe(serverId);
    // Past the server's maxFrameBytes (64 KiB) after the handshake: that connection is closed.
    const lost = firstValueFrom(
      t.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(10_000),
      ),
    );
    // (the server may close before the last byte is written: the send may fail with EPIPE)
    await t.send(serverId, [new Uint8Array(1 << 20)]).catch(() => undefined);
    await lost;
    await waitForLine(c.server, /PS_ERR_FRAME_TOO_LARGE/);
    await waitForLine(c.server, /PS_ERR_FRAME_(MALFORMED|TRUNCATED)/);
    await waitForLine(c.server, /PS_ERR_HANDSHAKE/);
    await expectUnchangedAndServing(c);
  });

  it('connections that never speak are closed after the handshake timeout; a flood of them does not keep a node out', async () => {
    const c = await startCluster({ KV_HELLO_TIMEOUT_MS: '500', KV_MAX_PENDING: '8' });
    const t0 = Date.now();
    const silent = Array.from({ length: 40 }, () => rawSocket(c.serverPort));
    const lasted = Promise.all(silent.map((s) => closed(s).then(() => Date.now() - t0)));
    // While they wait, the worker is served, and a new node gets in (it retries while refused).
    expect(await values(c.worker)).toEqual([2, 4, 6]);
    const late = transport({ secret: SECRET });
    await late.bind({ id: 'late', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await late.connect({ host: '127.0.0.1', port: c.serverPort })).toBeTruthy();
    const ms = await lasted;
    expect(ms.filter((m) => m >= 450).length).toBeLessThanOrEqual(8); // at most 8 were let wait
    expect(Math.max(...ms)).toBeLessThan(5000);
    await waitForLine(c.server, /PS_ERR_RATE_LIMIT: 8 connections are waiting/);
    await waitForLine(c.server, /PS_ERR_HANDSHAKE: .*did not complete its handshake within 500 ms/);
    await expectUnchangedAndServing(c);
  });

  it('a peer over maxMessagesPerSecond is disconnected and logged; the server keeps serving', async () => {
    const c = await startCluster({ KV_MAX_RATE: '300' });
    const t = transport({ secret: SECRET, reconnectWindowMs: 500 });
    await t.bind({ id: 'flooder', host: '127.0.0.1', port: 0 }, { listen: false });
    const serverId = await t.connect({ host: '127.0.0.1', port: c.serverPort });
    let answers = 0;
    t.frames$.subscribe(() => answers++);
    const lost = firstValueFrom(
      t.events$.pipe(
        filter((e) => e.type === 'disconnected'),
        timeout(10_000),
      ),
    );
    const pull = frame({ pull: true }, [keys]);
    await Promise.all(Array.from({ length: 3000 }, () => t.send(serverId, pull).catch(() => undefined)));
    await lost;
    expect(answers).toBeLessThanOrEqual(400); // the burst, and what the rate refilled meanwhile
    await waitForLine(c.server, /PS_ERR_RATE_LIMIT: .*flooder sent more than 300 messages a second/);
    await expectUnchangedAndServing(c);
  });
});

describe('TLS', () => {
  it('a cluster of processes over TLS with a secret pulls exact sums; a plain client is refused without harm', async () => {
    const tls = {
      KV_TLS_CERT: join(dir, 'cert.pem'),
      KV_TLS_KEY: join(dir, 'key.pem'),
      KV_TLS_CA: join(dir, 'cert.pem'),
    };
    const common = {
      PS_NUM_SERVERS: '2',
      PS_NUM_WORKERS: '2',
      PS_SECRET: SECRET,
      KV_REPEAT: '30',
      KV_KEYS: '2000',
      KV_DELAY_MS: '20',
      ...tls,
    };
    const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
    const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
    const env = { ...common, PS_SCHEDULER: `127.0.0.1:${port}` };
    const servers = [0, 1].map(() => spawnNode(script, { ...env, PS_ROLE: 'server' }));
    const workers = [0, 1].map(() => spawnNode(script, { ...env, PS_ROLE: 'worker' }));
    const { port: serverPort } = await servers[0]!.waitFor<{ event: string; port: number }>(
      (o) => o.event === 'listening',
    );
    // A plain client (with the secret) to a TLS server: refused; so is a raw plain hello.
    const plain = transport({ secret: SECRET, connectTimeoutMs: 300 });
    await plain.bind({ id: 'plain', host: '127.0.0.1', port: 0 }, { listen: false });
    const err = await plain.connect({ host: '127.0.0.1', port: serverPort }).catch((e: unknown) => e);
    expect(isPsError(err, PsErrorCode.PEER_UNREACHABLE)).toBe(true);
    const raw = rawSocket(serverPort);
    raw.write(lengthPrefixed(encodeHello('plain-raw')));
    await closed(raw);
    // A TLS client that does not trust the certificate refuses the server.
    const untrusting = transport({ secret: SECRET, tls: {} });
    await untrusting.bind({ id: 'untrusting', host: '127.0.0.1', port: 0 }, { listen: false });
    const err2 = await untrusting.connect({ host: '127.0.0.1', port: serverPort }).catch((e: unknown) => e);
    expect(isPsError(err2, PsErrorCode.AUTH)).toBe(true);

    type Result = { event: string; values: number; mismatches: number };
    const results = await Promise.all(
      workers.map((w) => w.waitFor<Result>((o) => o.event === 'result', 60_000)),
    );
    for (const r of results) {
      expect(r.values).toBe(2000);
      expect(r.mismatches).toBe(0);
    }
    const all = [scheduler, ...servers, ...workers];
    expect(await Promise.all(all.map((p) => exitCode(p)))).toEqual(all.map(() => 0));
    expect(servers[0]!.stderr.join('\n')).toMatch(/PS_ERR_AUTH: TLS handshake with .* failed/);
  });
});

describe('ps slr with a secret file and TLS', () => {
  it('trains with every connection authenticated; a secret file that is too short is refused', async () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const p = spawnNode(cli, {}, [
      'slr',
      '--dataset',
      'spam',
      '--epochs',
      '1',
      '--json',
      '--secret-file',
      file,
    ]);
    expect(await exitCode(p, 120_000)).toBe(0);
    expect(p.stderr.join('\n')).toMatch(/connections authenticated with the cluster secret/);
    expect(p.stderr.join('\n')).not.toMatch(/PS_ERR_AUTH/);
    const summary = JSON.parse(p.lines.at(-1)!) as { accuracy: number };
    expect(summary.accuracy).toBeGreaterThanOrEqual(0.9);

    const short = join(dir, 'short');
    writeFileSync(short, 'too short\n', { mode: 0o600 });
    const bad = spawnNode(cli, {}, ['slr', '--secret-file', short]);
    expect(await exitCode(bad, 20_000)).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/PS_ERR_CONFIG: the secret file .* at least 16 bytes/);
  });

  it('trains over TLS (tcp and wss) with the certificate the user gives; a certificate without its key is refused', async () => {
    const secret = join(dir, 'secret-tls');
    writeFileSync(secret, `${SECRET}\n`, { mode: 0o600 });
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, pem.cert);
    writeFileSync(key, pem.key, { mode: 0o600 });
    for (const transport of ['tcp', 'ws']) {
      const p = spawnNode(cli, {}, [
        'slr',
        '--dataset',
        'spam',
        '--epochs',
        '1',
        '--transport',
        transport,
        '--json',
        '--secret-file',
        secret,
        '--tls-cert',
        cert,
        '--tls-key',
        key,
        '--tls-ca',
        cert,
      ]);
      expect(await exitCode(p, 120_000), p.stderr.join('\n')).toBe(0);
      const stderr = p.stderr.join('\n');
      expect(stderr).toMatch(new RegExp(`over ${transport} with TLS, 1 epochs, connections authenticated`));
      expect(stderr).not.toMatch(/PS_ERR_AUTH/);
      const summary = JSON.parse(p.lines.at(-1)!) as { accuracy: number; transport: string };
      expect(summary.transport).toBe(transport);
      expect(summary.accuracy).toBeGreaterThanOrEqual(0.9);
    }
    const half = spawnNode(cli, {}, ['slr', '--tls-cert', cert]);
    expect(await exitCode(half, 20_000)).toBe(2);
    expect(half.stderr.join('\n')).toMatch(/PS_ERR_CONFIG: TLS needs both a certificate and its key/);
    const notPem = spawnNode(cli, {}, ['slr', '--tls-cert', secret, '--tls-key', key]);
    expect(await exitCode(notPem, 20_000)).toBe(2);
    expect(notPem.stderr.join('\n')).toMatch(/PS_ERR_CONFIG: the TLS certificate .* is not PEM/);
  });
});
