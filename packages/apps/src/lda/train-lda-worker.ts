import { type KVPairs, type KVWorker, type PsNode, seededRandom, type Timestamp } from '@ps/core';
import { GibbsSampler, type LdaPriors } from './gibbs-sampler.js';
import type { LdaConfig } from './lda-config.js';
import { docsSlice, type LdaCorpus } from './lda-corpus.js';
import { ldaKeys } from './lda-keys.js';

/** What a worker reports at the end of each sweep over its documents. */
export interface LdaSweep {
  type: 'sweep';
  rank: number;
  /** The sweep just finished, from 1. */
  sweep: number;
  sweeps: number;
  /** Tokens this worker sampled in the sweep. */
  tokens: number;
  /** Seconds since this worker began sampling. */
  seconds: number;
}

/** What one worker did (see {@link trainLdaWorker}). */
export interface LdaWorkerReport {
  rank: number;
  /** Tokens sampled over all sweeps. */
  tokens: number;
  /** Seconds from the first batch's pull to the last push applied. */
  seconds: number;
  /**
   * CPU seconds (user + system) of this process over the same stretch: the worker's own when it
   * has a process to itself, every node's when they share one.
   */
  cpuSeconds: number;
  /** Push requests (the initial counts, then one per batch). */
  pushes: number;
}

/** Arguments of {@link trainLdaWorker}. */
export interface TrainLdaWorkerArgs {
  node: PsNode;
  worker: KVWorker;
  corpus: LdaCorpus;
  cfg: LdaConfig;
  onSweep?: (s: LdaSweep) => void;
}

/** The seed of worker `rank`'s sampler: `seed` for rank 0 (a 1-worker run is the plain sampler's). */
export function ldaWorkerSeed(seed: number, rank: number): number {
  return (seed + Math.imul(rank, 0x9e3779b9)) >>> 0;
}

/**
 * One worker of LDA on the parameter server (OSDI 2014, section 5.2): the servers hold n(w,k)
 * and n(k) (see {@link ldaKeys}), summed by `sumHandler({ dtype: 'float64' })`; this worker holds
 * the topics of its documents' tokens and their n(d,k). Its documents are the training documents
 * `[⌊r·D/W⌋, ⌊(r+1)·D/W⌋)` (rank r of W workers). It draws their first topics, pushes those counts
 * and waits at a barrier of the workers; then, for each batch of `cfg.batchDocs` documents, it
 * pulls the counts of the batch's words and the totals, runs a Gibbs step on every token of the
 * batch against that copy (see {@link GibbsSampler}), and pushes the difference. The pull of batch
 * b waits for this worker's push of batch b − τ − 1 and for every worker to have finished batch
 * b − τ − 1 (core's progress clock), τ = `cfg.tau`: with τ = 0 and one worker, the sampler sees
 * exactly the counts a single-process sampler would. Ends at a barrier of the workers, once every
 * push of every worker is applied.
 */
export async function trainLdaWorker(args: TrainLdaWorkerArgs): Promise<LdaWorkerReport> {
  const { node, worker, corpus, cfg } = args;
  const rank = node.rank;
  const W = node.view.workers.length;
  const V = corpus.vocabulary.length;
  const K = cfg.topics;
  const D = corpus.train.offsets.length - 1;
  const docs = docsSlice(corpus.train, Math.floor((rank * D) / W), Math.floor(((rank + 1) * D) / W));
  const nDocs = docs.offsets.length - 1;
  const priors: LdaPriors = { topics: K, vocabulary: V, alpha: cfg.alpha, beta: cfg.beta };
  const sampler = new GibbsSampler(docs, priors, seededRandom(ldaWorkerSeed(cfg.seed, rank)));

  // The first topics: this worker's counts of every word, pushed once.
  const nwk0 = new Int32Array(V * K);
  const nk0 = new Int32Array(K);
  sampler.initialize(nwk0, nk0);
  const used: number[] = [];
  for (let w = 0; w < V; w++) if (nwk0.subarray(w * K, w * K + K).some((c) => c !== 0)) used.push(w);
  const init = new Float64Array((used.length + 1) * K);
  for (let i = 0; i < used.length; i++) init.set(nwk0.subarray(used[i]! * K, used[i]! * K + K), i * K);
  init.set(nk0, used.length * K);
  await worker.wait(worker.push({ keys: ldaKeys(Uint32Array.from(used), V), vals: init }));
  await node.barrier('workers');

  // Each batch's distinct words (sorted) and their keys, the same every sweep.
  const perSweep = Math.ceil(nDocs / cfg.batchDocs);
  const seen = new Uint8Array(V);
  const batches = Array.from({ length: perSweep }, (_, j) => {
    const from = j * cfg.batchDocs;
    const to = Math.min(nDocs, from + cfg.batchDocs);
    const ws: number[] = [];
    for (let i = docs.offsets[from]!; i < docs.offsets[to]!; i++) {
      const w = docs.words[i]!;
      if (!seen[w]) {
        seen[w] = 1;
        ws.push(w);
      }
    }
    for (const w of ws) seen[w] = 0;
    const words = Uint32Array.from(ws).sort();
    return { from, to, words, keys: ldaKeys(words, V) };
  });

  const total = perSweep * cfg.sweeps;
  const tau = cfg.tau;
  // Buffers reused round robin, so that a batch allocates nothing of its size (allocated per
  // batch, the collector took about a tenth of a worker's CPU time). Batch b's pull lands in pulled[b % ring]; when
  // it is issued (after batch b − τ − 1 was sampled) only the pulls of batches b − τ to b − 1 are
  // in flight. Batch b's push sends deltas[b % ring] without a copy; when batch b is sampled the
  // pushes before b − τ − 1 have been answered (its pull waited for them), so at most τ + 1
  // pushes hold a buffer.
  // No more than there are batches (with τ ≥ total, every pull is issued at the start).
  const ring = Math.max(1, Math.min(tau + 2, total));
  const widest = Math.max(0, ...batches.map((x) => x.words.length)) * K + K;
  const pulled = Array.from({ length: ring }, () => new Float64Array(widest));
  const deltas = Array.from({ length: ring }, () => new Float64Array(widest));
  const local = new Int32Array(widest);
  const progress = node.progress;
  const pushes: Timestamp<void>[] = [];
  const pulls = new Map<number, Promise<KVPairs>>();
  const issuePull = (b: number) => {
    const { keys } = batches[b % perSweep]!;
    const into = pulled[b % ring]!.subarray(0, keys.length * K);
    const dep = b - tau - 1;
    const answer =
      dep < 0
        ? worker.wait(worker.pull(keys, { into }))
        : (W > 1 ? progress.waitFor(b, tau) : Promise.resolve()).then(() =>
            worker.wait(worker.pull(keys, { deps: [pushes[dep]!], into })),
          );
    // Awaited in turn below; a failure there is the one reported.
    answer.catch(() => undefined);
    pulls.set(b, answer);
  };
  const acked: boolean[] = [];
  let finished = 0;
  const onAcked = (b: number) => {
    acked[b] = true;
    while (acked[finished]) finished++;
    if (finished > progress.finished) progress.finish(finished);
  };

  // rows[w]: the row of word w in the batch's copy of the counts.
  const rows = new Int32Array(V);
  let tokens = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let b = 0; b <= Math.min(tau, total - 1); b++) issuePull(b);
  for (let b = 0; b < total; b++) {
    const { from, to, words, keys } = batches[b % perSweep]!;
    const { vals } = await pulls.get(b)!;
    pulls.delete(b);
    const n = words.length;
    const width = vals.length;
    for (let i = 0; i < n; i++) rows[words[i]!] = i;
    for (let i = 0; i < width; i++) local[i] = vals[i]!;
    tokens += sampler.sample(from, to, local.subarray(0, n * K), local.subarray(n * K, width), rows);
    const delta = deltas[b % ring]!.subarray(0, width);
    for (let i = 0; i < width; i++) delta[i] = local[i]! - vals[i]!;
    pushes[b] = worker.push({ keys, vals: delta });
    // A push that fails is reported by the wait at the end; a closed node ends the waits.
    void worker
      .wait(pushes[b]!)
      .then(() => onAcked(b))
      .catch(() => undefined);
    if (b + tau + 1 < total) issuePull(b + tau + 1);
    if ((b + 1) % perSweep === 0) {
      args.onSweep?.({
        type: 'sweep',
        rank,
        sweep: (b + 1) / perSweep,
        sweeps: cfg.sweeps,
        tokens: docs.words.length,
        seconds: (performance.now() - t0) / 1000,
      });
    }
  }
  await Promise.all(pushes.map((t) => worker.wait(t)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // A worker done with its batches holds the others back no more.
  progress.done();
  await node.barrier('workers');
  return { rank, tokens, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, pushes: total + 1 };
}
