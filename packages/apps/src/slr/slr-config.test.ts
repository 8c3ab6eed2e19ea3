import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { parseKillSpec, resolveSlrConfig } from './slr-config.js';

describe('parseKillSpec (--kill)', () => {
  it('reads servers, workers and the scheduler (which is started again)', () => {
    expect(parseKillSpec('server:1@0.3, worker:1@0.5,scheduler@0.4', 3, 2)).toEqual([
      { role: 'server', index: 1, at: 0.3 },
      { role: 'worker', index: 1, at: 0.5 },
      { role: 'scheduler', index: 0, at: 0.4 },
    ]);
    expect(parseKillSpec('scheduler:0@.25', 1, 1)).toEqual([{ role: 'scheduler', index: 0, at: 0.25 }]);
    expect(parseKillSpec('', 1, 1)).toEqual([]);
  });

  it('refuses malformed entries, a second scheduler kill and an index past the count', () => {
    const refused = (spec: string) => {
      try {
        parseKillSpec(spec, 3, 2);
      } catch (err) {
        expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
        return (err as Error).message;
      }
      throw new Error(`'${spec}' was accepted`);
    };
    expect(refused('scheduler@1')).toMatch(/fraction in \(0, 1\)/);
    expect(refused('scheduler:1@0.5')).toMatch(/scheduler@fraction/);
    expect(refused('scheduler@0.2,scheduler@0.6')).toMatch(/once at most/);
    expect(refused('server:3@0.5')).toMatch(/only 3 servers/);
  });
});

describe('resolveSlrConfig --consistency sync', () => {
  it('takes sync beside the other models', () => {
    expect(resolveSlrConfig({ consistency: 'sync' }).consistency).toBe('sync');
  });

  it('refuses sync with significant-update and with browser workers, saying why', () => {
    const refused = (partial: Parameters<typeof resolveSlrConfig>[0], why: RegExp) => {
      let err: unknown;
      try {
        resolveSlrConfig(partial);
      } catch (e) {
        err = e;
      }
      expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
      expect((err as Error).message).toMatch(why);
    };
    refused({ consistency: 'sync', filters: 'significant:0.01' }, /significant-update/);
    refused(
      { consistency: 'sync', browserWorkers: 1, transport: 'ws', dataset: 'spam' },
      /browser workers do not tag/,
    );
  });
});
