// Test helpers of the dashboard's HTTP tests: a job's progress event, and a reader of a feed's
// Server-Sent Events over real HTTP.
import type { JobSnapshot } from './job-feed.js';

export const progress = (rank: number, rowsDone: number) =>
  ({
    type: 'progress',
    rank,
    epoch: 1,
    epochs: 2,
    rowsDone,
    rowsTotal: 400,
    loss: 0.25,
    accuracy: 0.5,
    examplesPerSec: 10,
    keysPushed: rowsDone,
    keysPulled: rowsDone,
  }) as const;

/** Reads `url`'s Server-Sent Events until the stream ends or `until` says stop; bounded by `ms`. */
export async function readEvents(
  url: string,
  opts: { onOpen?: () => void; until?: (s: JobSnapshot[]) => boolean; ms?: number } = {},
): Promise<{ snapshots: JobSnapshot[]; ended: boolean; type: string | null }> {
  const abort = AbortSignal.timeout(opts.ms ?? 10_000);
  const res = await fetch(url, { signal: abort });
  const snapshots: JobSnapshot[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  opts.onOpen?.();
  for (let i = 0; i < 10_000; i++) {
    const { value, done } = await reader.read();
    if (done) return { snapshots, ended: true, type: res.headers.get('content-type') };
    buffer += value;
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = /^event: snapshot\ndata: (.*)$/s.exec(block);
      if (data) snapshots.push(JSON.parse(data[1]!) as JobSnapshot);
    }
    if (opts.until?.(snapshots)) {
      await reader.cancel();
      return { snapshots, ended: false, type: res.headers.get('content-type') };
    }
  }
  throw new Error('too many reads');
}
