import { PsError, PsErrorCode } from '@ps/core';
import type { SparseDataset } from './dataset.js';

/** How a train/test pair was made, for the advice in {@link checkTrainTest}'s messages. */
export interface TrainTestOrigin {
  /** The share of rows the split held out, when the test rows came from a split. */
  testFraction?: number;
}

/**
 * Checks that a train/test pair can train and measure a binary classifier: at least one
 * training row and one test row, and training rows of both labels (0 and 1). Costs O(rows).
 *
 * @returns the pair itself.
 * @throws PsError `PS_ERR_DATASET` naming the data set, what is missing and what to change.
 */
export function checkTrainTest(
  train: SparseDataset,
  test: SparseDataset,
  origin: TrainTestOrigin = {},
): { train: SparseDataset; test: SparseDataset } {
  const bad = (what: string): never => {
    throw new PsError(PsErrorCode.DATASET, what);
  };
  const split =
    origin.testFraction === undefined
      ? ''
      : ` (${train.rows + test.rows} rows split with --test-fraction ${origin.testFraction}: give more rows, another --test-fraction, or a --test-dataset)`;
  if (train.rows === 0) bad(`${train.name}: no training rows${split}`);
  if (test.rows === 0) bad(`${test.name}: no test rows${split}`);
  let positives = 0;
  for (let r = 0; r < train.rows; r++) positives += train.labels[r]!;
  if (positives === 0 || positives === train.rows) {
    bad(
      `${train.name}: every training row has label ${positives === 0 ? '0 (-1)' : '1 (+1)'}; logistic regression needs examples of both labels`,
    );
  }
  return { train, test };
}
