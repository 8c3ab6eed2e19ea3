import cliProgress from 'cli-progress';
import type { SlrProgress } from '../slr/train-slr-worker.js';

/** Shows the job's training progress: a bar on a terminal, plain lines elsewhere. */
export interface ProgressDisplay {
  update(p: SlrProgress): void;
  stop(): void;
}

/**
 * A progress display over all workers: rows processed (of shard rows × epochs, summed), the
 * examples/s of the whole cluster, and the recent training loss. On a TTY it draws a
 * cli-progress bar on `stream`; otherwise it writes a line at most every `lineEveryMs` and at the
 * end of each epoch of worker 0.
 */
export function createProgressDisplay(opts: {
  workers: number;
  stream?: NodeJS.WriteStream;
  tty?: boolean;
  lineEveryMs?: number;
}): ProgressDisplay {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const latest = new Map<number, SlrProgress>();
  const totals = () => {
    let done = 0;
    let total = 0;
    let speed = 0;
    let loss = 0;
    let n = 0;
    for (const p of latest.values()) {
      done += p.rowsDone;
      total += p.rowsTotal;
      speed += p.examplesPerSec;
      if (Number.isFinite(p.loss)) {
        loss += p.loss;
        n++;
      }
    }
    const epoch = Math.min(...[...latest.values()].map((p) => p.epoch));
    const epochs = latest.values().next().value?.epochs ?? 0;
    return { done, total, speed, loss: n ? loss / n : Number.NaN, epoch, epochs };
  };
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format:
          'training |{bar}| {percentage}% | epoch {epoch}/{epochs} | {value}/{total} rows | {speed} ex/s | loss {loss}',
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        latest.set(p.rank, p);
        if (latest.size < opts.workers) return;
        const t = totals();
        const payload = {
          epoch: t.epoch,
          epochs: t.epochs,
          speed: Math.round(t.speed).toLocaleString('en-US'),
          loss: t.loss.toFixed(4),
        };
        if (!started) {
          bar.start(t.total, t.done, payload);
          started = true;
        } else bar.update(t.done, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  const every = opts.lineEveryMs ?? 2000;
  let last = 0;
  let lastEpoch = 0;
  return {
    update(p) {
      latest.set(p.rank, p);
      const now = Date.now();
      const t = totals();
      const epochDone =
        p.rank === 0 && p.epoch !== lastEpoch && p.rowsDone % Math.max(1, p.rowsTotal / p.epochs) === 0;
      if (latest.size < opts.workers || (now - last < every && !epochDone)) return;
      if (epochDone) lastEpoch = p.epoch;
      last = now;
      const pct = t.total ? ((100 * t.done) / t.total).toFixed(1) : '0.0';
      stream.write(
        `training: epoch ${t.epoch}/${t.epochs}  ${pct}%  ${t.done}/${t.total} rows  ${Math.round(t.speed)} ex/s  loss ${t.loss.toFixed(4)}\n`,
      );
    },
    stop() {},
  };
}
