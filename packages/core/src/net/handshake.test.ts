import { inspect } from 'node:util';
import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { isPsError, PsError, PsErrorCode } from '../errors.js';
import { ClusterSecret, MIN_SECRET_BYTES } from './cluster-secret.js';
import { decodeHello, encodeHello, HANDSHAKE_PROTOCOL, Handshake, type HandshakeStep } from './handshake.js';
import { RoleSecrets } from './role-secrets.js';

const SECRET = 'correct horse battery staple, 32+';
const secret = () => new ClusterSecret(SECRET);
const other = () => new ClusterSecret('another secret of enough length');

/** Runs a dialer and an acceptor against each other in lock step; records every frame. */
async function run(dialer: Handshake, acceptor: Handshake) {
  const toAcceptor: Uint8Array[] = [];
  const toDialer: Uint8Array[] = [];
  const steps: { dial: HandshakeStep[]; accept: HandshakeStep[] } = { dial: [], accept: [] };
  let frame: Uint8Array | undefined = dialer.start();
  toAcceptor.push(frame);
  for (let i = 0; i < 8 && frame; i++) {
    const atAcceptor = i % 2 === 0;
    const step = await (atAcceptor ? acceptor : dialer).receive(frame);
    (atAcceptor ? steps.accept : steps.dial).push(step);
    frame = step.send;
    if (frame) (atAcceptor ? toDialer : toAcceptor).push(frame);
    if (step.error && !step.send) break;
  }
  const last = (s: HandshakeStep[]): HandshakeStep | undefined => s.find((x) => x.error) ?? s.at(-1);
  return { toAcceptor, toDialer, steps, dialEnd: last(steps.dial), acceptEnd: last(steps.accept) };
}

const code = (x: HandshakeStep | undefined) => x?.error?.code;

describe('Handshake without a secret', () => {
  it('is the plain hello exchange, answered synchronously, one round trip', () => {
    const d = new Handshake({ side: 'dial', self: 'w' });
    const a = new Handshake({ side: 'accept', self: 's' });
    const hello = d.start();
    expect(decodeHello(hello)).toEqual({ protocol: HANDSHAKE_PROTOCOL, id: 'w' });
    expect(hello).toEqual(encodeHello('w'));
    const atA = a.receive(hello) as HandshakeStep;
    expect(atA).not.toBeInstanceOf(Promise);
    expect(atA.peer).toBe('w');
    expect(a.done).toBe(true);
    const atD = d.receive(atA.send!) as HandshakeStep;
    expect(atD).toEqual({ peer: 's' });
    expect(d.done).toBe(true);
  });

  it('refuses a peer that claims this node’s own id, and one the admit hook refuses', () => {
    const a = new Handshake({ side: 'accept', self: 's' });
    const step = a.receive(encodeHello('s')) as HandshakeStep;
    expect(step.error?.code).toBe(PsErrorCode.HANDSHAKE);
    const b = new Handshake({
      side: 'accept',
      self: 's',
      admit: (id) => (id === 'scheduler' ? new PsError(PsErrorCode.AUTH, 'no') : undefined),
    });
    const refused = b.receive(encodeHello('scheduler')) as HandshakeStep;
    expect(refused.error?.code).toBe(PsErrorCode.AUTH);
    // The dialer learns why from the error frame.
    const d = new Handshake({ side: 'dial', self: 'scheduler' });
    d.start();
    const atD = d.receive(refused.send!) as HandshakeStep;
    expect(atD.error?.code).toBe(PsErrorCode.AUTH);
    expect(atD.error?.message).toMatch(/refused the connection: no/);
  });

  it('turns garbage and malformed hellos into PS_ERR_HANDSHAKE steps, never a throw', () => {
    for (const bad of [
      new Uint8Array([0xc1]),
      encode([1, 2]),
      encode({ protocol: 'ps/0', id: 'x' }),
      encode({ protocol: HANDSHAKE_PROTOCOL, id: '' }),
      encode({ protocol: HANDSHAKE_PROTOCOL, id: 'w\n[ps-server] warn: forged log line' }),
      encode({ protocol: HANDSHAKE_PROTOCOL, id: 'x', auth: 'hmac-sha256', nonce: new Uint8Array(3) }),
      encode({ protocol: HANDSHAKE_PROTOCOL, id: 'x', proof: 'p' }),
    ]) {
      const step = new Handshake({ side: 'accept', self: 's' }).receive(bad) as HandshakeStep;
      expect(step.error?.code).toBe(PsErrorCode.HANDSHAKE);
    }
  });
});

describe('Handshake with a cluster secret', () => {
  it('authenticates both sides in two round trips; the secret never travels', async () => {
    const d = new Handshake({ side: 'dial', self: 'worker-1', secret: secret() });
    const a = new Handshake({ side: 'accept', self: 'server-1', secret: secret() });
    const r = await run(d, a);
    expect(r.dialEnd?.peer).toBe('server-1');
    expect(r.dialEnd?.error).toBeUndefined();
    expect(r.acceptEnd?.peer).toBe('worker-1');
    expect(d.done && a.done).toBe(true);
    expect(r.toAcceptor).toHaveLength(2); // hello, proof
    expect(r.toDialer).toHaveLength(2); // hello with proof, ok
    const wire = Buffer.concat([...r.toAcceptor, ...r.toDialer]);
    expect(wire.includes(Buffer.from(SECRET))).toBe(false);
    expect(wire.includes(Buffer.from(SECRET.slice(0, 12)))).toBe(false);
    const hello = decodeHello(r.toDialer[0]!);
    expect(hello.nonce).toHaveLength(32);
    expect(hello.proof).toHaveLength(32);
  });

  it('uses a fresh nonce on every connection', () => {
    const n1 = decodeHello(new Handshake({ side: 'dial', self: 'w', secret: secret() }).start()).nonce!;
    const n2 = decodeHello(new Handshake({ side: 'dial', self: 'w', secret: secret() }).start()).nonce!;
    expect(Buffer.compare(Buffer.from(n1), Buffer.from(n2))).not.toBe(0);
  });

  it('refuses a wrong secret on both sides with PS_ERR_AUTH', async () => {
    const d = new Handshake({ side: 'dial', self: 'w', secret: other() });
    const a = new Handshake({ side: 'accept', self: 's', secret: secret() });
    const r = await run(d, a);
    // The dialer finds the acceptor's proof wrong and tells it so; neither side completes.
    expect(code(r.dialEnd)).toBe(PsErrorCode.AUTH);
    expect(code(r.acceptEnd)).toBe(PsErrorCode.AUTH);
    expect(d.done || a.done).toBe(false);
  });

  it('refuses a peer without a secret, and a secret where none is expected, telling the other side', async () => {
    for (const [ds, as] of [
      [undefined, secret()],
      [secret(), undefined],
    ] as const) {
      const d = new Handshake({ side: 'dial', self: 'w', secret: ds });
      const a = new Handshake({ side: 'accept', self: 's', secret: as });
      const r = await run(d, a);
      expect(code(r.acceptEnd)).toBe(PsErrorCode.AUTH);
      expect(code(r.dialEnd)).toBe(PsErrorCode.AUTH);
      expect(d.done || a.done).toBe(false);
    }
  });

  it('refuses a recorded handshake replayed to a new acceptor (its nonce differs)', async () => {
    const recorded = await run(
      new Handshake({ side: 'dial', self: 'worker-1', secret: secret() }),
      new Handshake({ side: 'accept', self: 'server-1', secret: secret() }),
    );
    expect(recorded.acceptEnd?.peer).toBe('worker-1');
    // An eavesdropper replays the dialer's two frames, answering each step of a fresh acceptor.
    const fresh = new Handshake({ side: 'accept', self: 'server-1', secret: secret() });
    const first = await fresh.receive(recorded.toAcceptor[0]!);
    expect(first.error).toBeUndefined();
    const second = await fresh.receive(recorded.toAcceptor[1]!);
    expect(second.error?.code).toBe(PsErrorCode.AUTH);
    expect(second.error?.message).toMatch(/replayed/);
    expect(second.peer).toBeUndefined();
    expect(fresh.done).toBe(false);
  });

  it('refuses a recorded acceptor answer replayed to a new dialer', async () => {
    const recorded = await run(
      new Handshake({ side: 'dial', self: 'worker-1', secret: secret() }),
      new Handshake({ side: 'accept', self: 'server-1', secret: secret() }),
    );
    const fresh = new Handshake({ side: 'dial', self: 'worker-1', secret: secret() });
    fresh.start();
    const step = await fresh.receive(recorded.toDialer[0]!);
    expect(step.error?.code).toBe(PsErrorCode.AUTH);
    expect(fresh.done).toBe(false);
  });

  it('refuses the acceptor’s own proof reflected back to it as the dialer’s', async () => {
    const a = new Handshake({ side: 'accept', self: 'server-1', secret: secret() });
    const nonce = new Uint8Array(32).fill(7);
    const hello = encode({ protocol: HANDSHAKE_PROTOCOL, id: 'mallory', auth: 'hmac-sha256', nonce });
    const answer = await a.receive(hello);
    const proof = decodeHello(answer.send!).proof!;
    const step = await a.receive(encode({ protocol: HANDSHAKE_PROTOCOL, proof }));
    expect(step.error?.code).toBe(PsErrorCode.AUTH);
    expect(a.done).toBe(false);
  });

  it('refuses a dialer that skips ahead: an ok or proof sent while a step is being checked', async () => {
    const a = new Handshake({ side: 'accept', self: 's', secret: secret() });
    const d = new Handshake({ side: 'dial', self: 'w', secret: secret() });
    const pending = a.receive(d.start());
    expect(pending).toBeInstanceOf(Promise);
    const early = (await a.receive(encode({ protocol: HANDSHAKE_PROTOCOL, proof: new Uint8Array(32) })))!;
    expect(early.error?.code).toBe(PsErrorCode.HANDSHAKE);
    expect(await pending).toEqual({});
    expect(a.done).toBe(false);
    // A malicious acceptor that sends its hello and `ok` back to back does not get through either.
    const d2 = new Handshake({ side: 'dial', self: 'w', secret: secret() });
    const a2 = new Handshake({ side: 'accept', self: 's', secret: secret() });
    const answer = await a2.receive(d2.start());
    const verifying = d2.receive(answer.send!);
    const ok = await d2.receive(encode({ protocol: HANDSHAKE_PROTOCOL, ok: true }));
    expect(ok.error?.code).toBe(PsErrorCode.HANDSHAKE);
    expect(ok.peer).toBeUndefined();
    await verifying;
    expect(d2.done).toBe(false);
  });

  it('caps what a refusing peer’s error frame may put in a log, and keeps it on one line', async () => {
    const d = new Handshake({ side: 'dial', self: 'w', secret: secret() });
    d.start();
    const step = await d.receive(
      encode({ protocol: HANDSHAKE_PROTOCOL, error: { code: 'PS_ERR_NOPE', message: 'x'.repeat(10_000) } }),
    );
    expect(step.error?.code).toBe(PsErrorCode.HANDSHAKE);
    expect(step.error!.message.length).toBeLessThan(400);
    expect(step.send).toBeUndefined();
    const d2 = new Handshake({ side: 'dial', self: 'w', secret: secret() });
    d2.start();
    const forged = await d2.receive(
      encode({
        protocol: HANDSHAKE_PROTOCOL,
        error: { code: 'PS_ERR_AUTH', message: 'no\n[x] warn: forged' },
      }),
    );
    expect(forged.error?.code).toBe(PsErrorCode.AUTH);
    expect(forged.error?.message).not.toMatch(/\n/);
  });
});

describe('ClusterSecret', () => {
  it(`refuses a secret shorter than ${MIN_SECRET_BYTES} bytes with PS_ERR_CONFIG`, () => {
    const err = (() => {
      try {
        return new ClusterSecret('short');
      } catch (e) {
        return e;
      }
    })();
    expect(isPsError(err, PsErrorCode.CONFIG)).toBe(true);
    expect(() => new ClusterSecret(new Uint8Array(MIN_SECRET_BYTES))).not.toThrow();
    expect(ClusterSecret.from(undefined)).toBeUndefined();
    const s = secret();
    expect(ClusterSecret.from(s)).toBe(s);
  });

  it('never shows the secret in logs, JSON or inspect', () => {
    const s = secret();
    for (const shown of [String(s), JSON.stringify({ s }), inspect(s, { showHidden: true, depth: 5 })]) {
      expect(shown).not.toContain(SECRET.slice(0, 8));
    }
  });

  it('signs with HMAC-SHA256 and verifies only the right MAC', async () => {
    const data = new TextEncoder().encode('transcript');
    const mac = await secret().sign(data);
    expect(mac).toHaveLength(32);
    expect(await secret().verify(mac, data)).toBe(true);
    expect(await other().verify(mac, data)).toBe(false);
    const bent = mac.slice();
    bent[31]! ^= 1;
    expect(await secret().verify(bent, data)).toBe(false);
    expect(await secret().verify(mac.subarray(0, 16), data)).toBe(false);
    // The same HMAC as node:crypto's.
    const { createHmac } = await import('node:crypto');
    expect(Buffer.from(mac).equals(createHmac('sha256', SECRET).update(data).digest())).toBe(true);
    expect(decode(encode({ m: mac }))).toEqual({ m: mac });
  });
});

describe('Handshake with per-role secrets (RoleSecrets)', () => {
  const S = 'the servers secret, long enough';
  const W = 'the workers secret, long enough';
  const scheduler = () => new RoleSecrets('scheduler', { server: S, worker: W });

  it('proves the dialer’s role: the acceptor records which credential each peer proved', async () => {
    for (const [role, secrets] of [
      ['worker', { worker: W }],
      ['server', { server: S, worker: W }],
    ] as const) {
      const acc = scheduler();
      const d = new Handshake({ side: 'dial', self: `n-${role}`, secret: new RoleSecrets(role, secrets) });
      expect(decodeHello(d.start()).key).toBe(role);
      const r = await run(
        new Handshake({ side: 'dial', self: `n-${role}`, secret: new RoleSecrets(role, secrets) }),
        new Handshake({ side: 'accept', self: 'scheduler', secret: acc }),
      );
      expect(r.dialEnd).toEqual({ peer: 'scheduler' });
      expect(r.acceptEnd?.peer).toBe(`n-${role}`);
      expect(acc.roleOf(`n-${role}`)).toBe(role);
    }
  });

  it('refuses a single secret, a credential the acceptor does not take, and a claimed role without its secret', async () => {
    const plain = await run(
      new Handshake({ side: 'dial', self: 'w', secret: new ClusterSecret(W) }),
      new Handshake({ side: 'accept', self: 'scheduler', secret: scheduler() }),
    );
    expect(code(plain.acceptEnd)).toBe(PsErrorCode.AUTH);
    expect(plain.acceptEnd?.error?.message).toMatch(/proves no role/);
    // A worker accepts only workers' credentials (it holds no servers' secret).
    const toWorker = await run(
      new Handshake({ side: 'dial', self: 's', secret: new RoleSecrets('server', { server: S, worker: W }) }),
      new Handshake({ side: 'accept', self: 'w', secret: new RoleSecrets('worker', { worker: W }) }),
    );
    expect(toWorker.acceptEnd?.error?.message).toMatch(/takes no server credential/);
    // The workers' secret under a claim of the servers' credential: the proofs do not verify.
    const forged = new Handshake({
      side: 'dial',
      self: 'x',
      secret: new RoleSecrets('worker', { worker: W }),
    });
    const hello = decode(forged.start()) as Record<string, unknown>;
    const acc = scheduler();
    const a = new Handshake({ side: 'accept', self: 'scheduler', secret: acc });
    const step = await a.receive(encode({ ...hello, key: 'server' }));
    const back = await forged.receive(step.send!);
    expect(code(back)).toBe(PsErrorCode.AUTH);
    expect(acc.roleOf('x')).toBeUndefined();
  });
});
