// `pskv nn` as a user runs it: the built CLI spawned as a process, its workers OS processes of
// their own, all over TCP on 127.0.0.1, on a small subset of MNIST (1,280 training images, 1 epoch
// of 10 steps per worker, 500 test images): the JSON summary's fields, and accuracy well above
// chance (0.1).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCode, killAll, spawnNode } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));

afterEach(killAll);

const small = ['--train-limit', '1280', '--test-limit', '500', '--epochs', '1', '--workers', '2', '--json'];

describe('pskv nn', () => {
  it('trains the MLP in sync mode with Adam on the servers: fields, steps and accuracy > 0.6 (0.80: a sync run is deterministic)', async () => {
    const p = spawnNode(cli, {}, [
      'nn',
      '--dataset',
      'mnist',
      '--model',
      'mlp',
      '--consistency',
      'sync',
      '--lr',
      '0.005',
      ...small,
    ]);
    expect(await exitCode(p, 120_000), p.stderr.join('\n')).toBe(0);
    const s = JSON.parse(p.lines.at(-1)!) as Record<string, unknown>;
    expect(Object.keys(s).sort()).toEqual(
      [
        'config',
        'epochs',
        'examples_per_s',
        'loss',
        'push_requests_by_worker',
        'seconds',
        'steps',
        'test_accuracy',
        'train_loss',
        'weights',
      ].sort(),
    );
    expect(s.config).toEqual({
      dataset: 'mnist',
      model: 'mlp',
      workers: 2,
      servers: 1,
      consistency: 'sync',
      optimizer: 'adam',
      lr: 0.005,
      epochs: 1,
      batchSize: 64,
      trainLimit: 1280,
      testLimit: 500,
      seed: 1,
      browserWorkers: 0,
    });
    // Each worker's 10 pushes, counted by the servers under its node id.
    expect(Object.values(s.push_requests_by_worker as Record<string, number>)).toEqual([10, 10]);
    expect(s.weights).toBe(784 * 128 + 128 + 128 * 10 + 10);
    expect(s.steps).toBe(2 * 10); // 640 images per worker, batches of 64
    expect(s.test_accuracy as number).toBeGreaterThan(0.6);
    expect(s.test_accuracy as number).toBeLessThanOrEqual(1);
    expect(s.loss as number).toBeGreaterThan(0);
    expect(s.loss as number).toBeLessThan(Math.log(10)); // below a uniform guess's cross-entropy
    expect(s.examples_per_s as number).toBeGreaterThan(0);
    expect(s.epochs).toEqual([{ epoch: 1, train_loss: s.train_loss, test_accuracy: null }]);
    expect(p.stderr.join('\n')).toMatch(/epoch 1\/1: worker 0 train loss/);
  });

  it('trains the ConvNet in eventual mode: accuracy > 0.4 (0.63 to 0.69 in three runs)', async () => {
    const p = spawnNode(cli, {}, [
      'nn',
      '--model',
      'cnn',
      '--consistency',
      'eventual',
      '--lr',
      '0.01',
      ...small,
    ]);
    expect(await exitCode(p, 120_000), p.stderr.join('\n')).toBe(0);
    const s = JSON.parse(p.lines.at(-1)!) as {
      weights: number;
      steps: number;
      test_accuracy: number;
      config: object;
    };
    expect(s.weights).toBe(5 * 5 * 8 + 8 + 5 * 5 * 8 * 16 + 16 + 256 * 10 + 10);
    expect(s.steps).toBe(20);
    expect(s.config).toMatchObject({
      model: 'cnn',
      consistency: 'eventual',
      optimizer: 'adam',
      lr: 0.01,
    });
    expect(s.test_accuracy).toBeGreaterThan(0.4);
  });

  it('refuses a train limit smaller than a batch per worker with exit 2 and says what to change', async () => {
    const p = spawnNode(cli, {}, ['nn', '--train-limit', '100', '--workers', '2']);
    expect(await exitCode(p, 30_000)).toBe(2);
    expect(p.stderr.join('\n')).toMatch(/raise --train-limit or lower --batch-size/);
    expect(p.stderr.join('\n')).toMatch(/pskv nn --help/);
  });
});
