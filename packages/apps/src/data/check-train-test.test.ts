import { isPsError, PsErrorCode } from '@ps/core';
import { describe, expect, it } from 'vitest';
import { checkTrainTest } from './check-train-test.js';
import { parseLibsvm } from './load-libsvm.js';

const ds = (text: string, name: string) => parseLibsvm(text, { name, features: 4 });
const both = ds('+1 1:1\n-1 2:1\n', 'train');
const one = ds('-1 1:1\n', 'test');

describe('checkTrainTest', () => {
  it('passes a pair with a row on each side and both labels in training', () => {
    expect(checkTrainTest(both, one)).toEqual({ train: both, test: one });
  });

  it('refuses no training row, no test row, and one training label, with PS_ERR_DATASET', () => {
    const msg = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(isPsError(err, PsErrorCode.DATASET)).toBe(true);
        return (err as Error).message;
      }
      throw new Error('did not throw');
    };
    const none = { ...one, name: 'none', rows: 0, indptr: new Int32Array(1), labels: new Uint8Array(0) };
    expect(msg(() => checkTrainTest(none, one))).toMatch(/none: no training rows$/);
    expect(msg(() => checkTrainTest(both, none, { testFraction: 0.2 }))).toBe(
      'PS_ERR_DATASET: none: no test rows (2 rows split with --test-fraction 0.2: give more rows, another --test-fraction, or a --test-dataset)',
    );
    expect(msg(() => checkTrainTest(ds('+1 1:1\n1 2:1\n', 'pos'), one))).toBe(
      'PS_ERR_DATASET: pos: every training row has label 1 (+1); logistic regression needs examples of both labels',
    );
    expect(msg(() => checkTrainTest(one, one))).toMatch(/every training row has label 0 \(-1\)/);
  });
});
