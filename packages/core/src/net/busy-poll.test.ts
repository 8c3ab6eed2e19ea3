import { afterEach, describe, expect, it } from 'vitest';
import { isPsError, PsErrorCode } from '../errors.js';
import { BusyPoll, busyPollWindowMs, DEFAULT_BUSY_POLL_US } from './busy-poll.js';

/** Waits (bounded) until `cond` holds, turning the event loop between looks. */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Returns once `ms` of real time passed since `t0` (a short busy wait, bounded by its argument). */
function pastMs(t0: number, ms: number): void {
  while (performance.now() - t0 < ms) {
    /* spin */
  }
}

describe('BusyPoll', () => {
  it('does not spin for sparse events, spins once they are dense, and stops when a window passes empty', async () => {
    const p = new BusyPoll();
    const windowMs = 0.5;
    // Gaps longer than the window: no spin.
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      p.kick(windowMs);
      pastMs(t0, 2 * windowMs);
    }
    expect(p.active).toBe(false);
    expect(p.stats.spins).toBe(0);
    // Dense events: at least 4 of the last 8 gaps short, so the loop is kept turning.
    for (let i = 0; i < 8; i++) p.kick(windowMs);
    expect(p.active).toBe(true);
    expect(p.stats.spins).toBe(1);
    // Keeps turning the loop: immediates and I/O callbacks run while it spins.
    let turns = 0;
    await new Promise<void>((resolve) => {
      const f = () => (++turns < 50 ? setImmediate(f) : resolve());
      f();
    });
    expect(turns).toBe(50);
    await until(() => !p.active);
    expect(p.stats.spins).toBe(1);
  });

  it('counts the events that arrive during a spin, and does nothing with a window of 0', async () => {
    const p = new BusyPoll();
    for (let i = 0; i < 8; i++) p.kick(50);
    expect(p.active).toBe(true);
    const caught = p.stats.caught;
    for (let i = 0; i < 5; i++) p.kick(50);
    expect(p.stats.caught).toBe(caught + 5);
    const q = new BusyPoll();
    for (let i = 0; i < 100; i++) q.kick(0);
    expect(q.active).toBe(false);
    expect(q.stats).toEqual({ spins: 0, caught: 0, crowded: 0 });
    await until(() => !p.active, 5000);
  });
});

describe('BusyPoll with requests awaited', () => {
  it('spins while at most one request is awaited, never while more are, and stops a spin when a second is issued', async () => {
    const p = new BusyPoll(null);
    const windowMs = 1000;
    // One request awaited (a loop with one in flight): dense events start a spin.
    p.awaiting(1);
    for (let i = 0; i < 8; i++) p.kick(windowMs);
    expect(p.active).toBe(true);
    expect(p.stats.spins).toBe(1);
    // A second request: the spin ends at its next turn, long before its window of 1 s.
    p.awaiting(1);
    const t0 = performance.now();
    await until(() => !p.active);
    expect(performance.now() - t0).toBeLessThan(windowMs / 2);
    // Dense events with two awaited start no spin.
    for (let i = 0; i < 20; i++) p.kick(windowMs);
    expect(p.active).toBe(false);
    expect(p.stats.spins).toBe(1);
    // Back to one: spinning again.
    p.awaiting(-1);
    for (let i = 0; i < 8; i++) p.kick(windowMs);
    expect(p.active).toBe(true);
    expect(p.stats.spins).toBe(2);
    p.awaiting(1);
    await until(() => !p.active);
    expect(p.awaitedRequests).toBe(2);
  });
});

/**
 * Runs spins of `p` until it was judged crowded out or `ms` of wall time passed (bounded): dense
 * events for three windows start a spin and keep it turning, then none, so that a window passes
 * empty and the spin ends. A share is judged only when a spin ends, once the spins since the last
 * judgment add up to 10 ms; events that never stop would keep one spin going without a judgment.
 */
async function spinFor(p: BusyPoll, windowMs: number, ms: number): Promise<void> {
  const end = performance.now() + ms;
  const crowded = p.stats.crowded;
  for (let round = 0; round < 1000 && performance.now() < end && p.stats.crowded === crowded; round++) {
    const burstEnd = performance.now() + 3 * windowMs;
    for (let i = 0; i < 100_000 && performance.now() < burstEnd; i++) {
      p.kick(windowMs);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => !p.active);
  }
}

describe('BusyPoll under contention', () => {
  it('pauses for 50 ms once its spins got under half a core, then spins again', async () => {
    // The process's CPU time as this poller reads it: a quarter of the wall time passing, as if
    // other processes held the core for the rest.
    const t0 = performance.now();
    const p = new BusyPoll(() => ((performance.now() - t0) * 1000) / 4);
    const windowMs = 1;
    await spinFor(p, windowMs, 2000);
    expect(p.stats.crowded).toBe(1);
    // The judgment ended the spin, and the poller is paused: dense events start none.
    const judgedAt = performance.now();
    const spins = p.stats.spins;
    expect(p.active).toBe(false);
    for (let i = 0; i < 20; i++) p.kick(windowMs);
    // (Unless this process itself was held off its core for most of the 50 ms pause.)
    if (performance.now() - judgedAt < 40) {
      expect(p.active).toBe(false);
      expect(p.stats.spins).toBe(spins);
    }
    // Once the pause is over, dense events spin again.
    await until(() => {
      for (let i = 0; i < 8; i++) p.kick(windowMs);
      return p.stats.spins > spins;
    }, 2000);
    await until(() => !p.active);
  });

  it('does not pause while its spins get the core', async () => {
    // The CPU time keeps pace with the wall time: a core of its own.
    const t0 = performance.now();
    const p = new BusyPoll(() => (performance.now() - t0) * 1000);
    await spinFor(p, 1, 60);
    await until(() => !p.active);
    expect(p.stats.spins).toBeGreaterThan(0);
    expect(p.stats.crowded).toBe(0);
  });

  it('never judges a share without a CPU reading (a browser)', async () => {
    const p = new BusyPoll(null);
    await spinFor(p, 1, 60);
    await until(() => !p.active);
    expect(p.stats.spins).toBeGreaterThan(0);
    expect(p.stats.crowded).toBe(0);
  });
});

describe('busyPollWindowMs', () => {
  const saved = process.env.PS_BUSY_POLL_US;
  afterEach(() => {
    if (saved === undefined) delete process.env.PS_BUSY_POLL_US;
    else process.env.PS_BUSY_POLL_US = saved;
  });

  it('takes the option, else PS_BUSY_POLL_US, else the default; refuses a negative value with PS_ERR_CONFIG', () => {
    delete process.env.PS_BUSY_POLL_US;
    expect(busyPollWindowMs(undefined)).toBe(DEFAULT_BUSY_POLL_US / 1000);
    expect(busyPollWindowMs(250)).toBe(0.25);
    process.env.PS_BUSY_POLL_US = '0';
    expect(busyPollWindowMs(undefined)).toBe(0);
    expect(busyPollWindowMs(40)).toBe(0.04);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      try {
        busyPollWindowMs(bad);
        expect.unreachable();
      } catch (e) {
        expect(isPsError(e) && e.code === PsErrorCode.CONFIG).toBe(true);
      }
    }
    process.env.PS_BUSY_POLL_US = 'soon';
    expect(() => busyPollWindowMs(undefined)).toThrow(/PS_BUSY_POLL_US=soon/);
  });
});
