import { BehaviorSubject, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PsErrorCode } from '../errors.js';
import type { TransportEvent } from '../net/transport.js';
import type { ClusterView } from './cluster-view.js';
import { Ring } from './ring.js';
import { TaskIssuer, type WireTask } from './task-issuer.js';

const node = (id: string, role: 'server' | 'worker', rank: number) => ({
  id,
  role,
  rank,
  host: 'h',
  port: 1,
});

function view(version: number, dead: string[] = []): ClusterView {
  return {
    version,
    epoch: version,
    run: 'r',
    leaseMs: 1000,
    servers: [node('s0', 'server', 0)],
    workers: [node('w0', 'worker', 0), node('w1', 'worker', 1)],
    ring: Ring.create(['s0']),
    replicas: 0,
    dead,
  };
}

function issuer() {
  const cluster$ = new BehaviorSubject<ClusterView | undefined>(undefined);
  const links$ = new Subject<TransportEvent>();
  const sent: [string, WireTask][] = [];
  const tasks = new TaskIssuer(
    {
      view: () => cluster$.value,
      send: async (to, body) => {
        sent.push([to, body]);
      },
      links$,
    },
    cluster$,
  );
  return { tasks, cluster$, links$, sent };
}

describe('TaskIssuer', () => {
  it('sends again what a node that reconnects holds unfinished, and nothing it finished', async () => {
    const { tasks, cluster$, links$, sent } = issuer();
    cluster$.next(view(1));
    const a = tasks.issue({ name: 'a', to: 'workers', args: { k: 1 } });
    const b = tasks.issue({ name: 'b', to: ['w1'] });
    const graph = sent[0]![1].graph;
    tasks.onTaskState('w0', { graph, id: a, state: 'started' });
    // A report of another graph (an earlier scheduler's) is not this one's.
    tasks.onTaskState('w0', { graph: 'old', id: a, state: 'finished', result: 4 });
    expect(tasks.state(a)?.nodes.w0).toBe('started');
    tasks.onTaskState('w0', { graph, id: a, state: 'finished', result: 5 });
    sent.length = 0;
    links$.next({ type: 'connected', peer: 'w0' });
    expect(sent).toEqual([]);
    links$.next({ type: 'connected', peer: 'w1' });
    expect(sent.map(([to, t]) => [to, t.id, t.name])).toEqual([
      ['w1', a, 'a'],
      ['w1', b, 'b'],
    ]);
    tasks.onTaskState('w1', { graph, id: a, state: 'finished', result: 6 });
    expect(await tasks.wait(a)).toEqual({ w0: 5, w1: 6 });
    // A report from a node the task was not sent to, or malformed, changes nothing.
    tasks.onTaskState('w0', { graph, id: b, state: 'finished', result: 1 });
    tasks.onTaskState('w1', { graph, id: 'b', state: 'finished' });
    expect(tasks.state(b)?.state).toBe('running');
  });

  it('fails the tasks of a node the view lists dead, and of one it no longer lists', async () => {
    const { tasks, cluster$ } = issuer();
    cluster$.next(view(1));
    const a = tasks.issue({ name: 'a', to: ['w0'] });
    const b = tasks.issue({ name: 'b', to: ['w1'] });
    cluster$.next(view(2, ['w0']));
    await expect(tasks.wait(a)).rejects.toMatchObject({ code: PsErrorCode.NODE_DEAD });
    cluster$.next({ ...view(3, ['w0']), workers: [node('w0', 'worker', 0)] });
    await expect(tasks.wait(b)).rejects.toMatchObject({ code: PsErrorCode.NODE_DEAD });
    const c = tasks.issue({ name: 'c', to: 'servers' });
    cluster$.complete();
    await expect(tasks.wait(c)).rejects.toMatchObject({ code: PsErrorCode.SHUTDOWN });
  });
});
