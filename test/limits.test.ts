// Bounded memory and connection limits against a server running as its own OS process over TCP
// on 127.0.0.1, attacked by holders of the cluster secret: frames announced and never finished,
// answers never read, and a flood of silent connections from one address. Each time the
// server's resident set (reported by the server process itself) stays bounded, the attacker is
// held back or cut off, and the real worker in this process is served exactly meanwhile. The
// peak counts both what the server reports and the kernel's high-water mark (/proc/PID/status).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  ClusterSecret,
  createWorker,
  encodeFrame,
  Handshake,
  type HandshakeStep,
  type KVWorker,
  type Logger,
  type Meta,
  type PsNode,
  type Segment,
  type Transport,
} from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { ws } from '@ps/transport-ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/kv-node.mjs', import.meta.url));
const SECRET = 'this cluster secret is 38 bytes long';
const MiB = 1024 * 1024;
const MB = 1e6;

const made: Transport[] = [];
const sockets: net.Socket[] = [];
const wsockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of wsockets.splice(0)) s.terminate();
  await Promise.all(made.splice(0).map((t) => t.close()));
  await killAll();
});

const quiet = (): Logger => ({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

interface Cluster {
  scheduler: Proc;
  server: Proc;
  node: PsNode;
  worker: KVWorker;
  serverPort: number;
}

/** A scheduler and a server (reporting its RSS every 50 ms) as processes, and the worker here. */
async function startCluster(
  serverEnv: Record<string, string> = {},
  kind: 'tcp' | 'ws' = 'tcp',
): Promise<Cluster> {
  // The attacks load this machine: a node slow to beat is not what these tests are about.
  const common = {
    PS_NUM_SERVERS: '1',
    PS_NUM_WORKERS: '1',
    PS_SECRET: SECRET,
    KV_TRANSPORT: kind,
    KV_HEARTBEAT_TIMEOUT_MS: '60000',
  };
  const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
  const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
  const server = spawnNode(script, {
    ...common,
    KV_RSS_EVERY_MS: '50',
    ...serverEnv,
    PS_ROLE: 'server',
    PS_SCHEDULER: `127.0.0.1:${port}`,
  });
  const t = kind === 'ws' ? ws({ secret: SECRET }) : tcp({ secret: SECRET });
  made.push(t);
  const { node, worker } = await createWorker({
    transport: t,
    scheduler: { host: '127.0.0.1', port },
    logger: quiet(),
  });
  const { port: serverPort } = await server.waitFor<{ event: string; port: number }>(
    (o) => o.event === 'listening',
  );
  return { scheduler, server, node, worker, serverPort };
}

const keys = new BigUint64Array([1n, 2n, 3n]);

/** The worker pushes [1, 2, 3] and pulls back exactly `want` plus that. */
async function served(w: KVWorker, want: number[]): Promise<number[]> {
  await w.wait(w.push({ keys, vals: new Float32Array([1, 2, 3]) }));
  const got = Array.from((await w.wait(w.pull(keys))).vals);
  expect(got).toEqual(want.map((v, i) => v + i + 1));
  return got;
}

async function finish(c: Cluster): Promise<void> {
  await c.node.finalize();
  expect(await exitCode(c.server)).toBe(0);
  expect(await exitCode(c.scheduler)).toBe(0);
}

/** The RSS samples the server printed so far, in bytes. */
const rssSamples = (p: Proc) =>
  p.lines.flatMap((l) => {
    try {
      const o = JSON.parse(l) as { event?: string; rss?: number };
      return o.event === 'rss' && typeof o.rss === 'number' ? [o.rss] : [];
    } catch {
      return [];
    }
  });

/**
 * The highest RSS a process reached: the most it reported, and the kernel's high-water mark
 * (`VmHWM`, which catches a peak between two reports, while its event loop was busy).
 */
function peakRss(p: Proc): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1];
  return Math.max(...rssSamples(p), hwm === undefined ? 0 : Number(hwm) * 1024);
}

/** Waits (at most `ms`) until `cond` holds, polling every 20 ms. */
async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for `n` more RSS samples than there are now; returns the latest. */
async function nextRss(p: Proc, n = 3): Promise<number> {
  const have = rssSamples(p).length;
  await until(() => rssSamples(p).length >= have + n, `${n} RSS samples from pid ${p.pid}`);
  return rssSamples(p).at(-1)!;
}

async function waitForLine(p: Proc, re: RegExp, ms = 20_000): Promise<void> {
  await until(() => p.stderr.some((l) => re.test(l)), `${re} in the server's log`, ms).catch(() => undefined);
  expect(p.stderr.join('\n')).toMatch(re);
}

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
const frame = (m: Partial<Meta>, data: Segment[] = []) => Buffer.concat(encodeFrame({ meta: meta(m), data }));

/**
 * A raw socket that completes core's handshake with the cluster secret as `id` (as an attacker
 * holding the secret would, byte by byte), then is left to the caller: nothing reads it after
 * that unless the caller does.
 */
function authenticated(port: number, id: string, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    sockets.push(s);
    s.on('error', () => undefined);
    const hs = new Handshake({ side: 'dial', self: id, secret: ClusterSecret.from(SECRET) });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const f = buf.subarray(4, 4 + buf.readUInt32LE(0));
        buf = buf.subarray(4 + f.length);
        const step = hs.receive(new Uint8Array(f));
        void Promise.resolve(step).then(apply);
      }
    };
    const apply = (step: HandshakeStep) => {
      if (step.send) s.write(lengthPrefixed(step.send));
      if (step.error) reject(step.error);
      else if (step.peer !== undefined) {
        s.off('data', onData);
        s.pause();
        resolve(s);
      }
    };
    s.on('data', onData);
    s.once('connect', () => s.write(lengthPrefixed(hs.start())));
    s.once('close', () => reject(new Error(`${id}: closed during the handshake`)));
  });
}

/** A `ws` client that completes core's handshake with the cluster secret as `id`. */
function authenticatedWs(port: number, id: string): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    wsockets.push(s);
    s.on('error', () => undefined);
    const hs = new Handshake({ side: 'dial', self: id, secret: ClusterSecret.from(SECRET) });
    s.once('open', () => s.send(hs.start()));
    const onMessage = (data: Buffer) => {
      void Promise.resolve(hs.receive(new Uint8Array(data))).then((step: HandshakeStep) => {
        if (step.send) s.send(step.send);
        if (step.error) reject(step.error);
        else if (step.peer !== undefined) {
          s.off('message', onMessage);
          resolve(s);
        }
      });
    };
    s.on('message', onMessage);
    s.once('close', () => reject(new Error(`${id}: closed during the handshake`)));
  });
}

/**
 * Sends one message of `bytes` in 1 MiB fragments and never its last one (`fin` stays false),
 * as fast as the server takes them: `blocked` is set while more than 8 MiB wait in the client.
 */
function pourWs(s: WebSocket, bytes: number) {
  const state = { taken: 0, blocked: false, done: false };
  const chunk = Buffer.alloc(MiB, 0x5a);
  const finished = (async () => {
    for (let sent = 0; sent < bytes && s.readyState === WebSocket.OPEN; sent += MiB) {
      s.send(chunk, { binary: true, fin: false });
      for (let i = 0; i < 100_000 && s.bufferedAmount > 8 * MiB && s.readyState === WebSocket.OPEN; i++) {
        state.blocked = true;
        await new Promise((r) => setTimeout(r, 10));
      }
      state.blocked = false;
      state.taken = sent + MiB - s.bufferedAmount;
    }
    for (let i = 0; i < 100_000 && s.bufferedAmount > 0 && s.readyState === WebSocket.OPEN; i++) {
      state.blocked = true;
      await new Promise((r) => setTimeout(r, 10));
    }
    state.taken = bytes - s.bufferedAmount;
    state.blocked = false;
    state.done = state.taken >= bytes;
  })();
  return { state, finished };
}

const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

/**
 * Writes `bytes` to `s` in 1 MiB chunks as fast as the peer takes them; `taken` counts the bytes
 * the kernel accepted, `blocked` is set while a write waits for 'drain'. Resolves when all were
 * taken, or when the socket closes.
 */
function pour(s: net.Socket, bytes: number) {
  const state = { taken: 0, blocked: false, done: false };
  const chunk = Buffer.alloc(MiB, 0x5a);
  const finished = (async () => {
    for (let sent = 0; sent < bytes && !s.destroyed; ) {
      const n = Math.min(MiB, bytes - sent);
      sent += n;
      const ok = s.write(n === MiB ? chunk : chunk.subarray(0, n), (err) => {
        if (!err) state.taken += n;
      });
      if (!ok) {
        state.blocked = true;
        await new Promise<void>((r) => {
          const go = () => {
            s.off('drain', go);
            s.off('close', go);
            r();
          };
          s.on('drain', go);
          s.on('close', go);
        });
        state.blocked = false;
      }
    }
    await new Promise<void>((r) => (s.destroyed || s.writableLength === 0 ? r() : s.once('drain', r)));
    state.done = state.taken >= bytes;
  })();
  return { state, finished };
}

describe('bounded memory', () => {
  it('4 authenticated connections announcing 256 MiB frames and sending 255 MiB: RSS stays bounded, the worker is served, the others wait their turn', async () => {
    const c = await startCluster();
    await served(c.worker, [0, 0, 0]);
    const baseline = await nextRss(c.server);
    const attackers = await Promise.all([0, 1, 2, 3].map((i) => authenticated(c.serverPort, `hoarder-${i}`)));
    const pours = attackers.map((s) => {
      const header = Buffer.alloc(4);
      header.writeUInt32LE(256 * MiB);
      s.write(header);
      return pour(s, 255 * MiB);
    });
    // One gets the node's whole inbound budget (256 MiB) and sends its 255 MiB; the other three
    // are not read: their writes stall once the kernel buffers are full.
    await until(
      () =>
        pours.some((p) => p.state.taken >= 255 * MiB) && pours.filter((p) => p.state.blocked).length === 3,
      'one attacker to send it all and three to stall',
      120_000,
    );
    const first = pours.findIndex((p) => p.state.taken >= 255 * MiB);
    for (const [i, p] of pours.entries()) if (i !== first) expect(p.state.taken).toBeLessThan(64 * MiB);
    // The worker is served meanwhile (its frames are small: never held back).
    await served(c.worker, [1, 2, 3]);
    await nextRss(c.server, 10);
    const peak = peakRss(c.server);
    expect(peak - baseline, `RSS from ${baseline} to ${peak}`).toBeLessThan(400 * MB);
    console.log(`inbound: server RSS ${(baseline / MB).toFixed(0)} MB -> peak ${(peak / MB).toFixed(0)} MB`);
    // The first one leaves: the budget goes to the next, which is read again and finishes.
    attackers[first]!.destroy();
    await until(
      () => pours.some((p, i) => i !== first && p.state.taken >= 255 * MiB),
      'the next attacker to be read again',
      120_000,
    );
    for (const s of attackers) s.destroy();
    await served(c.worker, [2, 4, 6]);
    await finish(c);
  }, 300_000);

  it('ws: 4 authenticated connections each sending 255 MiB of one message and never its end: RSS stays bounded, the worker is served', async () => {
    const c = await startCluster({ KV_MAX_INBOUND_BYTES: String(64 * MiB) }, 'ws');
    await served(c.worker, [0, 0, 0]);
    const baseline = await nextRss(c.server);
    const attackers = await Promise.all(
      [0, 1, 2, 3].map((i) => authenticatedWs(c.serverPort, `hoarder-${i}`)),
    );
    const pours = attackers.map((s) => pourWs(s, 255 * MiB));
    // Past the node's budget (here 64 MiB) one connection may finish its message; the other three
    // are not read.
    await until(
      () => pours.some((p) => p.state.done) && pours.filter((p) => p.state.blocked).length === 3,
      'one attacker to send it all and three to stall',
      120_000,
    );
    const first = pours.findIndex((p) => p.state.done);
    for (const [i, p] of pours.entries()) if (i !== first) expect(p.state.taken).toBeLessThan(96 * MiB);
    await served(c.worker, [1, 2, 3]);
    await nextRss(c.server, 10);
    const peak = peakRss(c.server);
    // At most the budget and one message.
    expect(peak - baseline, `RSS from ${baseline} to ${peak}`).toBeLessThan(500 * MB);
    console.log(
      `ws inbound: server RSS ${(baseline / MB).toFixed(0)} MB -> peak ${(peak / MB).toFixed(0)} MB`,
    );
    for (const s of attackers) s.terminate();
    await served(c.worker, [2, 4, 6]);
    await finish(c);
  }, 300_000);

  it('a client that sends 400 pulls of a 4 MB value and never reads is disconnected (PS_ERR_SLOW_PEER); RSS stays bounded; others are served', async () => {
    const c = await startCluster();
    const big = new BigUint64Array([100n]);
    const value = new Float32Array(MB).fill(0.5); // one key of 1,000,000 floats: 4 MB
    await c.worker.wait(c.worker.push({ keys: big, vals: value }));
    await served(c.worker, [0, 0, 0]);
    const baseline = await nextRss(c.server);
    const s = await authenticated(c.serverPort, 'never-reads');
    const pulls = Buffer.concat(
      Array.from({ length: 400 }, (_, i) => lengthPrefixed(frame({ pull: true, ts: i + 1 }, [big]))),
    );
    s.write(pulls);
    await waitForLine(c.server, /PS_ERR_SLOW_PEER: never-reads does not read what this node sends/, 60_000);
    await served(c.worker, [1, 2, 3]);
    const got = await c.worker.wait(c.worker.pull(big));
    expect(got.vals.length).toBe(MB);
    expect(got.vals[0]).toBe(0.5);
    expect(got.vals[MB - 1]).toBe(0.5);
    await nextRss(c.server, 10);
    const peak = peakRss(c.server);
    expect(peak - baseline, `RSS from ${baseline} to ${peak}`).toBeLessThan(400 * MB);
    console.log(`outbound: server RSS ${(baseline / MB).toFixed(0)} MB -> peak ${(peak / MB).toFixed(0)} MB`);
    // The client sees its connection closed once it looks.
    s.resume();
    await closed(s);
    await finish(c);
  }, 120_000);
});

describe('connection limits', () => {
  it('130 silent connections from 127.0.0.2 do not lock out a node dialing from 127.0.0.1 (maxPendingHandshakesPerSource)', async () => {
    // Silent connections would stay a minute: only the per-source cap can let the new node in.
    const c = await startCluster({ KV_HELLO_TIMEOUT_MS: '60000' });
    const silent = Array.from({ length: 130 }, () => {
      const s = net.connect({ port: c.serverPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
      s.on('error', () => undefined);
      s.resume();
      sockets.push(s);
      return s;
    });
    await until(() => silent.filter((s) => s.destroyed).length >= 130 - 16, '114 refusals');
    const late = tcp({ secret: SECRET, connectTimeoutMs: 20_000 });
    made.push(late);
    await late.bind({ id: 'late', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await late.connect({ host: '127.0.0.1', port: c.serverPort })).toBeTruthy();
    expect(silent.filter((s) => !s.destroyed).length).toBe(16);
    await waitForLine(c.server, /PS_ERR_RATE_LIMIT: 16 connections from 127\.0\.0\.2 are waiting/);
    await served(c.worker, [0, 0, 0]);
    for (const s of silent) s.destroy();
    await finish(c);
  }, 120_000);

  it('past maxConnections a new connection is closed at once (PS_ERR_CONNECTION_LIMIT) and gets in once one closes', async () => {
    // The worker holds one of the server's 4 places.
    const c = await startCluster({ KV_MAX_CONNECTIONS: '4' });
    const held = await Promise.all([0, 1, 2].map((i) => authenticated(c.serverPort, `holder-${i}`)));
    const refused = net.connect({ port: c.serverPort, host: '127.0.0.1' });
    refused.on('error', () => undefined);
    refused.resume();
    sockets.push(refused);
    await closed(refused);
    await waitForLine(c.server, /PS_ERR_CONNECTION_LIMIT: 4 connections are open \(maxConnections\)/);
    await served(c.worker, [0, 0, 0]);
    held[0]!.destroy();
    const late = tcp({ secret: SECRET, connectTimeoutMs: 20_000 });
    made.push(late);
    await late.bind({ id: 'late', host: '127.0.0.1', port: 0 }, { listen: false });
    expect(await late.connect({ host: '127.0.0.1', port: c.serverPort })).toBeTruthy();
    await finish(c);
  }, 120_000);
});
