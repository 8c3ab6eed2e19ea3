import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { resolveSlrConfig } from '../slr/slr-config.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return isPsError(e) ? e.message : String(e);
  }
  return 'no error';
};

describe('checkpoint options', () => {
  it('--checkpoint-every needs --checkpoint-dir', () => {
    expect(codeOf(() => resolveSlrConfig({ checkpointEvery: 5 }))).toBe(
      `${PsErrorCode.CHECKPOINT}: --checkpoint-every needs --checkpoint-dir DIR: the directory the checkpoints go to`,
    );
  });
  it('sync mode takes no checkpoint', () => {
    expect(
      codeOf(() => resolveSlrConfig({ checkpointDir: 'd', checkpointEvery: 5, consistency: 'sync' })),
    ).toMatch(/^PS_ERR_CHECKPOINT: --checkpoint-dir does not work with --consistency sync/);
  });
  it('a negative period is refused; a directory alone (resume only) is fine', () => {
    expect(codeOf(() => resolveSlrConfig({ checkpointDir: 'd', checkpointEvery: -1 }))).toMatch(
      /^PS_ERR_CHECKPOINT: --checkpoint-every must be a positive/,
    );
    expect(resolveSlrConfig({ checkpointDir: 'd' })).toMatchObject({
      checkpointDir: 'd',
      checkpointEvery: 0,
    });
  });
});
