import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { resolveSlrConfig } from '../slr/slr-config.js';
import { browserWorkerQuery, parseBrowserWorkerQuery } from './worker-query.js';

describe('browser worker query', () => {
  it('carries the scheduler and the job options that differ from their defaults, and reads them back', () => {
    const cfg = resolveSlrConfig({
      dataset: 'spam',
      transport: 'ws',
      browserWorkers: 2,
      workers: 3,
      epochs: 2,
      batchSize: 32,
      bigrams: false,
      testFraction: 0.25,
      consistency: 'eventual',
    });
    const q = browserWorkerQuery({ host: '127.0.0.1', port: 9000 }, cfg);
    // Launcher-only options (servers, workers, browserWorkers, transport) stay out.
    expect(q).toBe(
      'scheduler=127.0.0.1%3A9000&dataset=spam&bigrams=false&testFraction=0.25&epochs=2&batchSize=32&consistency=eventual',
    );
    const back = parseBrowserWorkerQuery(`?${q}`);
    expect(back.scheduler).toEqual({ host: '127.0.0.1', port: 9000 });
    for (const k of [
      'dataset',
      'bigrams',
      'testFraction',
      'epochs',
      'batchSize',
      'consistency',
      'bits',
    ] as const)
      expect(back.cfg[k]).toEqual(cfg[k]);
    expect(back.cfg.transport).toBe('ws');
  });

  it('brackets an IPv6 scheduler host', () => {
    const q = browserWorkerQuery({ host: '::1', port: 9000 }, resolveSlrConfig({ dataset: 'spam' }));
    expect(parseBrowserWorkerQuery(q).scheduler).toEqual({ host: '::1', port: 9000 });
  });

  it('refuses a query without a scheduler, with an unknown option, or with a job a tab cannot run', () => {
    const code = (search: string) => {
      try {
        parseBrowserWorkerQuery(search);
        return 'no error';
      } catch (err) {
        return isPsError(err, PsErrorCode.CONFIG) ? err.message : String(err);
      }
    };
    expect(code('dataset=spam')).toMatch(/scheduler must be host:port/);
    expect(code('scheduler=h:1&dataset=spam&color=red')).toMatch(/unknown option 'color'/);
    expect(code('scheduler=h:1&dataset=spam&workers=4')).toMatch(/unknown option 'workers'/);
    expect(code('scheduler=h:1&dataset=spam&epochs=0')).toMatch(/--epochs must be an integer/);
    expect(code('scheduler=h:1&filters=zstd')).toMatch(/'zstd' is not a filter/);
    expect(code('scheduler=h:1&consistency=sync')).toMatch(/browser workers do not tag/);
    // Any data set, with the job's filters.
    expect(code('scheduler=h:1')).toBe('no error');
    expect(parseBrowserWorkerQuery('scheduler=h:1&dataset=a.svm&filters=quantize:8,lz4').cfg).toMatchObject({
      dataset: 'a.svm',
      filters: 'quantize:8,lz4',
    });
  });
});
