import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleLogger, logLevelFromEnv, Scheduler } from '@ps/core';
import { tcp } from '@ps/transport-tcp';
import { JobInterrupted } from '../job/job-interrupted.js';
import { roleExecArgv } from '../job/local-cluster.js';
import type { LdaEvaluation } from './evaluate-lda.js';
import { checkLdaWorkers, type LdaConfig } from './lda-config.js';
import type { LdaCorpus } from './lda-corpus.js';
import { encodeLdaCorpus } from './lda-corpus-codec.js';
import type { LdaRoleMessage } from './lda-role-main.js';
import { type LdaSummary, ldaSummary } from './lda-summary.js';
import { loadLdaCorpus } from './load-lda-corpus.js';
import type { LdaSweep, LdaWorkerReport } from './train-lda-worker.js';

/** Options of {@link runLdaProcesses}. */
export interface RunLdaProcessesOptions {
  /** The script that runs one role when called with `lda-role` (the `pskv` CLI's own file). */
  roleScript: string;
  /**
   * The corpus (default: `loadLdaCorpus(cfg)`): tokenized once, here, and written to a temporary
   * file (`encodeLdaCorpus`) that every worker process reads instead of tokenizing it again.
   */
  corpus?: LdaCorpus;
  onSweep?: (s: LdaSweep) => void;
  /** Called once every role process is started, with their names (`server 0`...) and pids. */
  onSpawned?: (roles: { name: string; pid: number }[]) => void;
  /** Tear the job down and fail after this many seconds. Default 3,600. */
  timeoutSeconds?: number;
}

/** How long a child may take to exit after SIGTERM before it gets SIGKILL, in ms. */
const KILL_GRACE_MS = 2_000;

/**
 * Runs an LDA job with every server and every worker in its own OS process on 127.0.0.1, over
 * TCP: the scheduler runs in this process, each role is `node roleScript lda-role` with the job in
 * `PS_LDA_JOB` and reports over an IPC channel (see `ldaRoleMain`). The children are killed, by
 * pid, when a role fails, at the time limit, and on SIGINT or SIGTERM (then it rejects with
 * `JobInterrupted`). Resolves with the summary (worker 0 measures the model).
 * @throws PsError `PS_ERR_CONFIG` for more workers than training documents; Error naming the
 *   role that failed and how.
 */
export async function runLdaProcesses(cfg: LdaConfig, opts: RunLdaProcessesOptions): Promise<LdaSummary> {
  const t0 = performance.now();
  const corpus = opts.corpus ?? (await loadLdaCorpus(cfg));
  checkLdaWorkers(cfg, corpus.train.offsets.length - 1);
  // The workers read the tokenized corpus (PS_LDA_CORPUS) instead of each tokenizing the texts.
  const dir = await mkdtemp(join(tmpdir(), 'ps-lda-'));
  const corpusFile = join(dir, 'corpus.pslda');
  try {
    await writeFile(corpusFile, encodeLdaCorpus(corpus));
    return await runRoles(cfg, opts, corpus, corpusFile, t0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The processes of {@link runLdaProcesses}, once the corpus file is written. */
async function runRoles(
  cfg: LdaConfig,
  opts: RunLdaProcessesOptions,
  corpus: LdaCorpus,
  corpusFile: string,
  t0: number,
): Promise<LdaSummary> {
  const scheduler = await Scheduler.start({
    transport: tcp(),
    host: '127.0.0.1',
    port: 0,
    numServers: cfg.servers,
    numWorkers: cfg.workers,
    heartbeatTimeoutMs: 30_000,
    logger: consoleLogger('ps-scheduler', process.env.PS_LOG_LEVEL ? logLevelFromEnv() : 'error'),
  });
  const children: { name: string; child: ChildProcess }[] = [];
  const reports: LdaWorkerReport[] = [];
  let evaluation: LdaEvaluation | undefined;
  let fail!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => undefined);
  const env = {
    ...process.env,
    PS_LDA_SCHEDULER: `127.0.0.1:${scheduler.address.port}`,
    PS_LDA_JOB: JSON.stringify(cfg),
    PS_LDA_CORPUS: corpusFile,
  };
  const exits: Promise<void>[] = [];
  const launch = (role: 'server' | 'worker', i: number) => {
    const name = `${role} ${i}`;
    const child = spawn(process.execPath, [...roleExecArgv(), opts.roleScript, 'lda-role'], {
      env: { ...env, PS_LDA_ROLE: role },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push({ name, child });
    child.on('message', (m) => {
      const msg = m as LdaRoleMessage;
      if (msg.type === 'sweep') opts.onSweep?.(msg);
      else if (msg.type === 'worker-done') {
        reports.push(msg.report);
        if (msg.evaluation) evaluation = msg.evaluation;
      } else if (msg.type === 'failed') fail(new Error(`${name} (pid ${child.pid}) failed: ${msg.message}`));
    });
    child.once('error', (err) => fail(new Error(`could not start ${name}: ${err.message}`)));
    exits.push(
      new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          if (code !== 0)
            fail(new Error(`${name} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}`));
          resolve();
        });
      }),
    );
  };
  const onSignal = (sig: NodeJS.Signals) => fail(new JobInterrupted(sig));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timeoutMs = (opts.timeoutSeconds ?? 3_600) * 1000;
  const timer = setTimeout(
    () => fail(new Error(`the LDA job did not end within ${timeoutMs / 1000} s; it was torn down`)),
    timeoutMs,
  );
  try {
    for (let i = 0; i < cfg.servers; i++) launch('server', i);
    for (let i = 0; i < cfg.workers; i++) launch('worker', i);
    opts.onSpawned?.(children.map(({ name, child }) => ({ name, pid: child.pid ?? -1 })));
    await Promise.race([failed, Promise.all([scheduler.terminated, ...exits])]);
    if (!evaluation || reports.length !== cfg.workers)
      throw new Error(
        `the job ended with ${reports.length} of ${cfg.workers} worker reports and no evaluation`,
      );
    return ldaSummary(cfg, corpus, reports, evaluation, (performance.now() - t0) / 1000, true);
  } catch (err) {
    await killAll(children.map((c) => c.child));
    await scheduler.shutdown();
    throw err;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** SIGTERM to every child still running, SIGKILL to those still there after the grace. */
async function killAll(children: ChildProcess[]): Promise<void> {
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const gone = alive.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  for (const c of alive) c.kill('SIGTERM');
  let grace: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(gone),
    new Promise<void>((resolve) => {
      grace = setTimeout(resolve, KILL_GRACE_MS);
    }),
  ]);
  clearTimeout(grace);
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(gone);
}
