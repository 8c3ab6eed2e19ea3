import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { BusyPoll, DEFAULT_BUSY_POLL_US } from '@ps/core';
import { Bench } from 'tinybench';
import { type CeilingRow, percentile, summarize } from './bench-stats.js';

/** Starts a benchmark peer child (`bench.js` with BENCH_ROLE) and resolves with its port. */
export async function startPeer(
  script: string,
  role: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(script, [], {
    env: { ...process.env, ...env, BENCH_ROLE: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (role === 'server') return { child, port: 0 };
  const [msg] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: msg.port };
}

/** Kills a peer by pid and waits for it to exit. */
export async function stopPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGKILL');
  await gone;
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  await once(s, 'connect');
  return s;
}

/**
 * Memory copy bandwidth: `Uint8Array.prototype.set` of 64 MiB (tinybench), in GB/s counting the
 * bytes copied once. The ceiling of in-process transports.
 */
export async function memcpyCeiling(quick: boolean): Promise<CeilingRow> {
  const size = 64 * 1024 * 1024;
  const src = new Uint8Array(size).fill(7);
  const dst = new Uint8Array(size);
  const bench = new Bench({ time: quick ? 200 : 1000, warmupTime: 50, retainSamples: true });
  bench.add('memcpy', () => {
    dst.set(src);
  });
  await bench.run();
  const r = bench.tasks[0]!.result as { latency?: { samples?: number[]; mean: number } };
  const samples = (r.latency?.samples ?? [r.latency?.mean ?? Number.NaN]).map(
    (ms) => size / (ms / 1000) / 1e9,
  );
  const s = summarize(samples);
  return {
    name: 'ceiling memcpy 64 MiB',
    kind: 'ceiling',
    value: s.median,
    unit: 'GB/s',
    ...s,
    runs: samples.length,
  };
}

/**
 * Raw `node:net` loopback stream: one process writes 1 MiB chunks, honouring backpressure, to a
 * sink process on 127.0.0.1, timed until the sink acknowledges the last byte. GB/s one way.
 * The ceiling of the TCP rows.
 */
export async function loopbackStreamCeiling(script: string, quick: boolean): Promise<CeilingRow> {
  const { child, port } = await startPeer(script, 'sink');
  try {
    const chunk = Buffer.alloc(1 << 20, 3);
    const total = (quick ? 128 : 512) * (1 << 20);
    const runs = quick ? 3 : 5;
    const samples: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = await connect(port);
      const header = Buffer.alloc(4);
      header.writeUInt32LE(total);
      const acked = once(s, 'data');
      const t0 = performance.now();
      s.write(header);
      for (let sent = 0; sent < total; sent += chunk.byteLength) {
        if (!s.write(chunk)) await once(s, 'drain');
      }
      await acked;
      samples.push(total / ((performance.now() - t0) / 1000) / 1e9);
      s.destroy();
    }
    const st = summarize(samples);
    return {
      name: 'ceiling tcp loopback stream',
      kind: 'ceiling',
      value: st.median,
      unit: 'GB/s',
      ...st,
      runs,
    };
  } finally {
    await stopPeer(child);
  }
}

/**
 * Raw `node:net` loopback ping-pong: 1 byte there and back to an echo process, µs per round trip.
 * `polled`: both ends busy-poll as @ps's message layer does by default (`BusyPoll`, the default
 * window, kicked at each write and read), so the row is the same technique's ceiling.
 */
export async function loopbackRoundTripCeiling(
  script: string,
  quick: boolean,
  polled = false,
): Promise<CeilingRow> {
  const { child, port } = await startPeer(script, polled ? 'echo-polled' : 'echo');
  const windowMs = DEFAULT_BUSY_POLL_US / 1000;
  const kick = polled ? () => BusyPoll.shared.kick(windowMs) : () => undefined;
  try {
    const s = await connect(port);
    // As many rounds as the bench's latency row measures, so both p99s stand on as many samples.
    const rounds = quick ? 300 : 10_000;
    const warmup = quick ? 50 : 1000;
    const one = Buffer.from([1]);
    const samples: number[] = [];
    for (let i = 0; i < rounds + warmup; i++) {
      const t0 = performance.now();
      const got = once(s, 'data');
      kick();
      s.write(one);
      await got;
      kick();
      if (i >= warmup) samples.push((performance.now() - t0) * 1000);
    }
    s.destroy();
    const st = summarize(samples);
    return {
      name: polled ? 'ceiling tcp loopback round trip polled' : 'ceiling tcp loopback round trip',
      kind: 'ceiling',
      value: st.median,
      unit: 'us',
      ...st,
      p99: percentile(samples, 99),
      runs: rounds,
    };
  } finally {
    await stopPeer(child);
  }
}
