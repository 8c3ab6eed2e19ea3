// `runLdaProcesses` tokenizes the corpus once, in the launcher, and its worker processes read it
// from the file it writes (PS_LDA_CORPUS) instead of each loading and tokenizing the data set.
// Runs against the built dist/ (`npm test` builds first): 1 server and 2 workers, each an OS
// process, over TCP on 127.0.0.1.
import { fileURLToPath } from 'node:url';
import { buildLdaCorpus, resolveLdaConfig, runLda, runLdaProcesses } from '@ps/apps';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../packages/apps/dist/cli.js', import.meta.url));

describe('runLdaProcesses and its corpus file', () => {
  it('the worker processes train the corpus the launcher tokenized, not one of their own', async () => {
    // Words of no data set: had a worker tokenized the job's data set (Reuters) itself, its
    // vocabulary, counts and top words would be Reuters's.
    const themes = [
      ['quokka', 'wombat', 'numbat', 'bilby', 'dingo'],
      ['gnocchi', 'ravioli', 'tortellini', 'lasagne', 'risotto'],
      ['cirrus', 'stratus', 'cumulus', 'nimbus', 'altostratus'],
    ];
    const texts = Array.from({ length: 120 }, (_, d) =>
      Array.from({ length: 12 }, (_, i) => themes[d % 3]![(d * 7 + i * 3) % 5]).join(' '),
    );
    const corpus = buildLdaCorpus(texts);
    expect([...corpus.vocabulary].sort()).toEqual([...themes.flat()].sort());
    const cfg = resolveLdaConfig({
      dataset: 'reuters',
      workers: 2,
      servers: 1,
      topics: 3,
      sweeps: 3,
      seed: 1,
    });
    const summary = await runLdaProcesses(cfg, { roleScript: cli, corpus, timeoutSeconds: 60 });
    expect(summary.processes).toBe(true);
    expect([summary.docs_train, summary.vocabulary, summary.tokens_train]).toEqual([108, 15, 108 * 12]);
    // Worker 0 measured the model with the vocabulary it was given.
    for (const w of summary.top_words.flat()) expect(themes.flat()).toContain(w);
    // One worker, sequential: the process that read the file samples exactly what a worker in
    // this process sampling the corpus itself does (the same seed, the same documents).
    const one = resolveLdaConfig({ ...cfg, workers: 1, consistency: 'sequential' });
    const fromFile = await runLdaProcesses(one, { roleScript: cli, corpus, timeoutSeconds: 60 });
    const inProcess = (await runLda(one, { corpus })).summary;
    expect(fromFile.perplexity).toBe(inProcess.perplexity);
    expect(fromFile.top_words).toEqual(inProcess.top_words);
  }, 90_000);
});
