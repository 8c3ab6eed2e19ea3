import { PsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { duringStart, EXIT_FAILED, EXIT_FENCED, EXIT_OK, EXIT_RESTART, exitCodeOf } from './exit-codes.js';

const err = (code: PsErrorCode) => new PsError(code, 'x');

describe('exitCodeOf', () => {
  it('says done, failed, left behind, or restart me', () => {
    expect([EXIT_OK, EXIT_FAILED, EXIT_FENCED, EXIT_RESTART]).toEqual([0, 1, 3, 75]);
    expect(exitCodeOf(err(PsErrorCode.SHUTDOWN))).toBe(0);
    expect(exitCodeOf(new Error('a bug'))).toBe(1);
    expect(exitCodeOf(err(PsErrorCode.DATASET))).toBe(1);
    expect(exitCodeOf(err(PsErrorCode.FENCED))).toBe(3);
    // The scheduler went away: run the job again.
    expect(exitCodeOf(err(PsErrorCode.NODE_DEAD))).toBe(75);
  });

  it('restarts a cluster that could not form, but not a request that timed out later', () => {
    expect(exitCodeOf(duringStart(err(PsErrorCode.TIMEOUT)))).toBe(75);
    expect(exitCodeOf(duringStart(err(PsErrorCode.PEER_UNREACHABLE)))).toBe(75);
    expect(exitCodeOf(err(PsErrorCode.TIMEOUT))).toBe(1);
    expect(exitCodeOf(err(PsErrorCode.PEER_UNREACHABLE))).toBe(1);
    // Refused while joining (a wrong secret) is a failure: restarting does not help.
    expect(exitCodeOf(duringStart(err(PsErrorCode.AUTH)))).toBe(1);
  });
});
