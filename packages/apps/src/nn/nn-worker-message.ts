/** What a `pskv nn` worker process tells its parent over the IPC channel. */
export type NnWorkerMessage =
  | {
      type: 'epoch';
      rank: number;
      epoch: number;
      /** Mean batch loss of the epoch on this worker's shard. */
      trainLoss: number;
      /** Rank 0, before the last epoch: accuracy and loss on the test images. */
      test?: { accuracy: number; loss: number } | undefined;
    }
  | {
      type: 'done';
      rank: number;
      steps: number;
      /** Trainable weights of the model. */
      weights: number;
      examples: number;
      trainLoss: number;
      trainSeconds: number;
      wallSeconds: number;
      /** Rank 0: the final model on the test images. */
      final?: { accuracy: number; loss: number } | undefined;
    };
