import { describe, expect, it } from 'vitest';
import { InboundBudget } from './inbound-budget.js';
import { StreamInboundGate } from './stream-inbound-gate.js';

const KiB = 1024;

function stream(name: string, log: string[]) {
  return { pause: () => log.push(`${name} pause`), resume: () => log.push(`${name} resume`) };
}

describe('StreamInboundGate', () => {
  it('lets one connection run past the budget, pauses the others, and wakes them when it frees', () => {
    const budget = new InboundBudget(256 * KiB);
    const gate = new StreamInboundGate(budget);
    const log: string[] = [];
    const a = gate.open(stream('a', log));
    const b = gate.open(stream('b', log));
    const c = gate.open(stream('c', log));
    a.received(200 * KiB);
    b.received(100 * KiB); // over: b becomes the one that may finish
    c.received(100 * KiB); // over: c waits
    a.received(64 * KiB); // over: a waits too
    expect(log).toEqual(['c pause', 'a pause']);
    b.received(300 * KiB); // the runner keeps going
    b.frameDone();
    // Still over (a 264 KiB, c 100 KiB): the one furthest into its frame goes on.
    expect(log).toEqual(['c pause', 'a pause', 'a resume']);
    a.frameDone();
    expect(log).toEqual(['c pause', 'a pause', 'a resume', 'c resume']);
    expect(gate.pausedCount).toBe(0);
    c.closed();
    expect(budget.usedBytes).toBe(0);
  });

  it('never pauses a connection whose frame is up to 64 KiB, and forgets a closed one', () => {
    const budget = new InboundBudget(64 * KiB);
    const gate = new StreamInboundGate(budget);
    const log: string[] = [];
    const big = gate.open(stream('big', log));
    const small = gate.open(stream('small', log));
    const other = gate.open(stream('other', log));
    big.received(200 * KiB); // the runner
    small.received(64 * KiB);
    other.received(70 * KiB);
    expect(log).toEqual(['other pause']);
    other.closed();
    big.closed();
    small.frameDone();
    expect([budget.usedBytes, gate.pausedCount, log]).toEqual([0, 0, ['other pause']]);
  });
});
