// ps-lite's test_kv_app as separate OS processes over TCP on 127.0.0.1: 1 scheduler, 2 servers,
// 2 workers. Each worker pushes R times to N keys, waits for the other worker, pulls, and
// checks the exact sum. Run after `npm run build` (the processes run the built packages).
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { encodeFrame, encodeHello, FRAME_VERSION } from '@ps/core';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, type Proc, spawnNode } from './helpers/processes.js';

const script = fileURLToPath(new URL('./fixtures/kv-node.mjs', import.meta.url));

afterEach(killAll);

async function startCluster(extra: Record<string, string>, servers = 2, workers = 2) {
  const common = { PS_NUM_SERVERS: String(servers), PS_NUM_WORKERS: String(workers), ...extra };
  const scheduler = spawnNode(script, { ...common, PS_ROLE: 'scheduler', PS_SCHEDULER: '127.0.0.1:0' });
  const { port } = await scheduler.waitFor<{ event: string; port: number }>((o) => o.event === 'listening');
  const env = { ...common, PS_SCHEDULER: `127.0.0.1:${port}` };
  const srv = Array.from({ length: servers }, () => spawnNode(script, { ...env, PS_ROLE: 'server' }));
  const wrk = Array.from({ length: workers }, () => spawnNode(script, { ...env, PS_ROLE: 'worker' }));
  return { scheduler, servers: srv, workers: wrk };
}

type Result = { event: string; rank: number; values: number; mismatches: number; lensOk: boolean };

async function expectExactSums(workers: Proc[], values: number, all: Proc[]) {
  const results = await Promise.all(
    workers.map((w) => w.waitFor<Result>((o) => o.event === 'result', 60_000)),
  );
  for (const r of results) {
    expect(r.values).toBe(values);
    expect(r.mismatches).toBe(0);
    expect(r.lensOk).toBe(true);
  }
  expect(results.map((r) => r.rank).sort()).toEqual([0, 1]);
  const codes = await Promise.all(all.map((p) => exitCode(p)));
  expect(codes).toEqual(all.map(() => 0));
}

describe('test_kv_app across processes over TCP', () => {
  it('two workers push R times to N keys on two servers and pull the exact sum', async () => {
    const c = await startCluster({ KV_REPEAT: '20', KV_KEYS: '5000' });
    await expectExactSums(c.workers, 5000, [c.scheduler, ...c.servers, ...c.workers]);
  });

  it('the same with variable-length values (lens)', async () => {
    const c = await startCluster({ KV_REPEAT: '10', KV_KEYS: '3000', KV_MODE: 'lens' });
    // lens cycle 1,2,3 over 3000 keys: 6000 values.
    await expectExactSums(c.workers, 6000, [c.scheduler, ...c.servers, ...c.workers]);
  });

  it('garbage, truncated and oversized frames sent to a live server do not stop it serving the workers', async () => {
    const c = await startCluster({ KV_REPEAT: '40', KV_KEYS: '2000', KV_DELAY_MS: '15' });
    const { port } = await c.servers[0]!.waitFor<{ event: string; port: number }>(
      (o) => o.event === 'listening',
    );
    const frame = (bytes: Uint8Array) => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32LE(bytes.byteLength);
      return Buffer.concat([prefix, bytes]);
    };
    const open = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.resume();
        s.on('error', reject);
      });
    // A socket nobody reads from never sees the peer's FIN: keep them flowing.
    const closed = (s: net.Socket) =>
      new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

    // 1. Bytes of another protocol, then a frame that is no hello: refused, connection closed.
    const a = await open();
    a.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed(a);
    const a2 = await open();
    a2.write(frame(Buffer.from('hello there')));
    await closed(a2);

    // 2. An oversized length prefix after a proper hello: connection closed.
    const b = await open();
    b.write(frame(encodeHello('intruder-b')));
    b.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await closed(b);

    // 3. A hello, then a garbage frame, then a truncated frame: rejected, yet the connection stays
    //    usable: a well-formed pull on it is answered.
    const d = await open();
    const replies: Buffer[] = [];
    d.on('data', (chunk: Buffer) => replies.push(chunk));
    d.write(frame(encodeHello('intruder-d')));
    d.write(frame(Uint8Array.from([0x50, 0x53, FRAME_VERSION, 9, 0xff, 0xff, 0xff, 0xff, 1, 2, 3])));
    d.write(frame(Uint8Array.from([0x50, 0x53, FRAME_VERSION, 1, 200, 0, 0, 0])));
    const pull = encodeFrame({
      meta: { sender: '', recipient: '', app: 0, ts: 77, request: true, push: false, pull: true },
      data: [new BigUint64Array([5n, 6n])],
    });
    d.write(frame(Buffer.concat(pull)));
    const deadline = Date.now() + 10_000;
    // hello back (small) + the pull's answer carrying 2 float32 values
    while (Buffer.concat(replies).byteLength < 40 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(Buffer.concat(replies).byteLength).toBeGreaterThanOrEqual(40);

    // 4. A frame cut short by the connection closing.
    d.write(Buffer.from([0x00, 0x10, 0x00, 0x00, 1, 2, 3]));
    d.end();
    await closed(d);

    await expectExactSums(c.workers, 2000, [c.scheduler, ...c.servers, ...c.workers]);
    const log = c.servers[0]!.stderr.join('\n');
    expect(log).toMatch(/PS_ERR_HANDSHAKE/);
    expect(log).toMatch(/PS_ERR_FRAME_TOO_LARGE/);
    expect(log).toMatch(/PS_ERR_FRAME_(MALFORMED|TRUNCATED)/);
  });
});
