// The options of a scheduler restart are checked up front: a recovery window, a run id and a
// node's scheduler-reconnect time that make no sense are refused with PS_ERR_CONFIG.
import { isPsError, PsErrorCode, PsNode, Scheduler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { describe, expect, it } from 'vitest';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const base = { transport: tcp(), numServers: 1, numWorkers: 1, logger: quiet };

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isPsError(err, PsErrorCode.CONFIG), String(err)).toBe(true);
  return (err as Error).message;
}

describe('scheduler restart options', () => {
  it('refuses a recovery window that is not a positive number of ms, and a malformed run id', async () => {
    expect(await refusal(Scheduler.start({ ...base, recover: true, recoveryWindowMs: 0 }))).toMatch(
      /recoveryWindowMs/,
    );
    expect(await refusal(Scheduler.start({ ...base, recoveryWindowMs: Number.NaN }))).toMatch(
      /recoveryWindowMs/,
    );
    expect(await refusal(Scheduler.start({ ...base, run: 'a/b' }))).toMatch(/run must be/);
  });

  it('refuses a negative schedulerReconnectMs', async () => {
    const at = { host: '127.0.0.1', port: 1 };
    const msg = await refusal(
      PsNode.create({ role: 'worker', transport: tcp(), scheduler: at, schedulerReconnectMs: -1 }),
    );
    expect(msg).toMatch(/schedulerReconnectMs/);
  });

  it('a scheduler given a run id keeps it, and one started with recover is recovering', async () => {
    const s = await Scheduler.start({
      ...base,
      transport: tcp(),
      run: 'run-7',
      recover: true,
      recoveryWindowMs: 60_000,
    });
    try {
      expect(s.run).toBe('run-7');
      expect(s.recovering).toBe(true);
    } finally {
      await s.shutdown();
    }
  });
});
