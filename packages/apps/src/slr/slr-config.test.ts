import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { parseKillSpec, resolveSlrConfig, SLR_DEFAULTS, slrBatchSize } from './slr-config.js';

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

describe('slrBatchSize (the default --batch-size)', () => {
  it('gives 256 rows to shards of 8 batches of 256 or more, and 8 batches a pass to smaller ones', () => {
    const auto = { batchSize: SLR_DEFAULTS.batchSize };
    expect(auto.batchSize).toBe(-1);
    // IMDB (40,000 training rows) and SpamAssassin (4,837) over 2 workers: 256.
    expect(slrBatchSize(auto, 40_000, 2)).toBe(256);
    expect(slrBatchSize(auto, 4837, 2)).toBe(256);
    // The bound: 2,048 rows a worker is 8 batches of 256; one row less is 8 batches of 255.
    expect(slrBatchSize(auto, 4096, 2)).toBe(256);
    expect(slrBatchSize(auto, 2047, 1)).toBe(255);
    // heart_scale's 216 training rows over 2 workers: 108 rows a worker, batches of 13, 9 a pass.
    expect(slrBatchSize(auto, 216, 2)).toBe(13);
    expect(Math.ceil(108 / slrBatchSize(auto, 216, 2))).toBe(9);
    // Shards differ by a row: the larger one decides, so every worker has the same batch.
    expect(slrBatchSize(auto, 217, 2)).toBe(13);
    expect(slrBatchSize(auto, 7, 1)).toBe(1);
    expect(slrBatchSize(auto, 0, 3)).toBe(1);
  });

  it('keeps an explicit --batch-size, and refuses 0', () => {
    expect(slrBatchSize(resolveSlrConfig({ batchSize: 64 }), 216, 2)).toBe(64);
    expect(slrBatchSize(resolveSlrConfig({ batchSize: 1024 }), 216, 2)).toBe(1024);
    expect(resolveSlrConfig({}).batchSize).toBe(-1);
    try {
      resolveSlrConfig({ batchSize: 0 });
      expect.unreachable();
    } catch (e) {
      expect(isPsError(e) && e.code === PsErrorCode.CONFIG).toBe(true);
      expect(String(e)).toMatch(/--batch-size must be an integer from 1 to 1000000, got 0/);
    }
  });
});
