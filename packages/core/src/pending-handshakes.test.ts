import { describe, expect, it } from 'vitest';
import { PsErrorCode } from './errors.js';
import { PendingHandshakes } from './pending-handshakes.js';

describe('PendingHandshakes', () => {
  it('refuses past max waiting sockets, reports once per run of refusals, and frees a place on handshake or close', () => {
    const p = new PendingHandshakes(2);
    expect(p.accept().accepted).toBe(true);
    expect(p.accept().accepted).toBe(true);
    const first = p.accept();
    expect(first.accepted).toBe(false);
    expect(first.report?.code).toBe(PsErrorCode.RATE_LIMIT);
    expect(p.accept()).toEqual({ accepted: false, report: undefined });
    // One completes its handshake: its place is free.
    p.countAuthenticated(1);
    expect(p.accept().accepted).toBe(true);
    // Full again: a new run of refusals is reported again.
    expect(p.accept().report?.code).toBe(PsErrorCode.RATE_LIMIT);
    // A waiting socket closes: its place is free; an authenticated one closing frees none.
    p.socketClosed();
    expect(p.accept().accepted).toBe(true);
    p.countAuthenticated(-1);
    p.socketClosed();
    expect(p.accept().accepted).toBe(false);
  });
});
