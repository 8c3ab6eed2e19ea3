import net from 'node:net';
import { PsErrorCode } from '@ps/core';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForScheduler } from './wait-for-scheduler.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A free port on 127.0.0.1, released again. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('waitForScheduler', () => {
  it('waits for a scheduler whose name does not resolve yet and whose port opens later', async () => {
    const port = await freePort();
    let published = false;
    const lookup = ((host: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      if (!published)
        return process.nextTick(() =>
          cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })),
        );
      if (o?.all) return process.nextTick(() => cb(null, [{ address: '127.0.0.1', family: 4 }]));
      process.nextTick(() => cb(null, '127.0.0.1', 4));
    }) as unknown as net.LookupFunction;
    const errors: string[] = [];
    let opened: Promise<void> | undefined;
    const waited = waitForScheduler(
      { host: 'sched.ps.test', port },
      {
        timeoutMs: 20_000,
        lookup,
        onAttempt: (err) => {
          errors.push(err.message);
          // First the name appears (refused: nothing listens yet), then the port opens.
          if (errors.length === 1) published = true;
          if (errors.length === 2 && !opened) {
            const s = net.createServer((c) => c.destroy());
            servers.push(s);
            opened = new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
          }
        },
      },
    );
    await waited;
    expect(errors[0]).toMatch(/ENOTFOUND sched\.ps\.test/);
    expect(errors[1]).toMatch(/ECONNREFUSED/);
    expect(errors.length).toBeGreaterThanOrEqual(2);
  });

  it('gives up after its timeout with PS_ERR_PEER_UNREACHABLE naming the address', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const err = await waitForScheduler({ host: '127.0.0.1', port }, { timeoutMs: 600 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: PsErrorCode.PEER_UNREACHABLE });
    expect((err as Error).message).toMatch(
      new RegExp(`the scheduler at 127\\.0\\.0\\.1:${port} did not answer within 600 ms: .*ECONNREFUSED`),
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
