import { describe, expect, it } from 'vitest';
import { PsErrorCode } from '../errors.js';
import { type Admission, ConnectionLimits } from './connection-limits.js';

const admit = (l: ConnectionLimits, source = '127.0.0.1'): Admission => {
  const r = l.accept(source);
  if (!r.accepted) throw new Error(`refused: ${r.report?.message}`);
  return r.admission;
};

describe('ConnectionLimits', () => {
  it('refuses past maxPendingHandshakes, reports once per run of refusals, and frees a place on handshake or close', () => {
    const l = new ConnectionLimits({ maxPendingHandshakes: 2, maxPendingHandshakesPerSource: 10 });
    const a = admit(l, '10.0.0.1');
    const b = admit(l, '10.0.0.2');
    const first = l.accept('10.0.0.3');
    expect(first.accepted).toBe(false);
    expect(!first.accepted && first.report?.code).toBe(PsErrorCode.RATE_LIMIT);
    expect(l.accept('10.0.0.3')).toEqual({ accepted: false, report: undefined });
    a.authenticated();
    a.authenticated(); // idempotent
    expect(l.pendingHandshakes()).toBe(1);
    const c = admit(l, '10.0.0.3');
    const again = l.accept('10.0.0.4');
    expect(!again.accepted && again.report?.code).toBe(PsErrorCode.RATE_LIMIT);
    b.closed();
    admit(l, '10.0.0.4');
    // An authenticated connection closing frees no pending place, only its connection.
    expect(l.openConnections).toBe(3);
    a.closed();
    a.closed();
    expect(l.openConnections).toBe(2);
    expect(l.accept('10.0.0.5').accepted).toBe(false);
    c.closed();
    expect(l.pendingHandshakes()).toBe(1);
  });

  it('caps waiting connections per source address, leaving places for other addresses', () => {
    const l = new ConnectionLimits({ maxPendingHandshakes: 128, maxPendingHandshakesPerSource: 16 });
    const flood = Array.from({ length: 16 }, () => admit(l, '127.0.0.2'));
    const refused = l.accept('127.0.0.2');
    expect(refused.accepted).toBe(false);
    expect(!refused.accepted && refused.report?.code).toBe(PsErrorCode.RATE_LIMIT);
    expect(!refused.accepted && refused.report?.message).toMatch(
      /16 connections from 127\.0\.0\.2 are waiting .*maxPendingHandshakesPerSource/,
    );
    for (let i = 0; i < 100; i++) expect(l.accept('127.0.0.2').accepted).toBe(false);
    expect(l.pendingHandshakes('127.0.0.2')).toBe(16);
    // Another address gets in.
    const honest = admit(l, '127.0.0.1');
    honest.authenticated();
    expect(l.pendingHandshakes('127.0.0.1')).toBe(0);
    // One of the flood completing its handshake frees one place for its address.
    flood[0]!.authenticated();
    admit(l, '127.0.0.2');
    expect(l.accept('127.0.0.2').accepted).toBe(false);
  });

  it('refuses past maxConnections with PS_ERR_CONNECTION_LIMIT, authenticated or not', () => {
    const l = new ConnectionLimits({ maxConnections: 3 });
    const all = [admit(l), admit(l), admit(l)];
    for (const a of all) a.authenticated();
    const r = l.accept('127.0.0.9');
    expect(!r.accepted && r.report?.code).toBe(PsErrorCode.CONNECTION_LIMIT);
    expect(!r.accepted && r.report?.message).toMatch(/3 connections are open \(maxConnections\)/);
    all[1]!.closed();
    expect(l.accept('127.0.0.9').accepted).toBe(true);
  });

  it('refuses limits below 1 with PS_ERR_CONFIG', () => {
    for (const o of [
      { maxConnections: 0 },
      { maxPendingHandshakes: 0.5 },
      { maxPendingHandshakesPerSource: Number.NaN },
    ]) {
      expect(() => new ConnectionLimits(o)).toThrow(/PS_ERR_CONFIG/);
    }
  });
});
