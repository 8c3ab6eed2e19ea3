import { PsError, PsErrorCode, parseHostPort } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import type { LdaEvaluation } from './evaluate-lda.js';
import { type LdaConfig, resolveLdaConfig } from './lda-config.js';
import { loadLdaCorpus } from './load-lda-corpus.js';
import { readLdaShard } from './read-lda-shard.js';
import { runLdaServer, runLdaWorker } from './run-lda-roles.js';
import type { LdaSweep, LdaWorkerReport } from './train-lda-worker.js';

/** What a role process of an LDA job tells its launcher over the IPC channel. */
export type LdaRoleMessage =
  | LdaSweep
  | { type: 'worker-done'; report: LdaWorkerReport; evaluation?: LdaEvaluation }
  | { type: 'server-done'; keys: number }
  | { type: 'failed'; message: string };

/**
 * The entry of an LDA role process (`pskv lda-role`, started by `runLdaProcesses`): the role from
 * `PS_LDA_ROLE` (`server` or `worker`), the scheduler from `PS_LDA_SCHEDULER` (host:port), the
 * job from `PS_LDA_JOB` (JSON of an `LdaConfig`); a worker reads its documents of the tokenized
 * corpus in the file `PS_LDA_CORPUS` names (written by the launcher, `encodeLdaCorpus`; see
 * `readLdaShard`), or without it loads and tokenizes the corpus itself. Reports over
 * the IPC channel (JSON lines on stdout without one); exits when the launcher goes away. Sets
 * `process.exitCode` to 1 when the role fails.
 * @throws PsError `PS_ERR_CONFIG` for a missing or bad variable.
 */
export async function ldaRoleMain(): Promise<void> {
  const role = process.env.PS_LDA_ROLE;
  if (role !== 'server' && role !== 'worker')
    throw new PsError(PsErrorCode.CONFIG, `PS_LDA_ROLE must be server or worker, got ${role ?? 'nothing'}`);
  const scheduler = parseHostPort('PS_LDA_SCHEDULER', process.env.PS_LDA_SCHEDULER);
  const cfg = resolveLdaConfig(JSON.parse(process.env.PS_LDA_JOB ?? '{}') as Partial<LdaConfig>);
  const send = process.send?.bind(process);
  const report = (m: LdaRoleMessage) => {
    if (send) send(m);
    else process.stdout.write(`${JSON.stringify(m)}\n`);
  };
  let finished = false;
  if (send) process.on('disconnect', () => finished || process.exit(1));
  process.title = `ps-lda-${role}`;
  const ctx = { transport: () => tcp(), scheduler };
  try {
    if (role === 'server') {
      report({ type: 'server-done', ...(await runLdaServer(ctx)) });
    } else {
      const file = process.env.PS_LDA_CORPUS;
      const corpus = file
        ? (rank: number, workers: number) => readLdaShard(file, rank, workers)
        : await loadLdaCorpus(cfg);
      const done = await runLdaWorker(ctx, corpus, cfg, report);
      report({
        type: 'worker-done',
        report: done.report,
        ...(done.evaluation ? { evaluation: done.evaluation } : {}),
      });
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    report({ type: 'failed', message });
    process.stderr.write(`ps-lda-${role}: ${message}\n`);
    process.exitCode = 1;
  }
  finished = true;
  if (send) process.disconnect?.();
}
