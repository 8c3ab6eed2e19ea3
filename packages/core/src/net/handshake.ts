import { decode, encode } from '@msgpack/msgpack';
import { isPsErrorCode, PsError, PsErrorCode } from '../errors.js';
import type { NodeId } from '../wire/message.js';
import { type ClusterSecret, PROOF_BYTES } from './cluster-secret.js';
import { type CredentialRole, RoleSecrets } from './role-secrets.js';

/** Protocol name and version a hello carries; a peer with another one is refused. */
export const HANDSHAKE_PROTOCOL = 'ps/1';

/** Longest node id accepted in a handshake, in characters. */
export const MAX_NODE_ID_LENGTH = 128;

/** The authentication a hello asks for when its node has a cluster secret. */
export const AUTH_ALGORITHM = 'hmac-sha256';

/** Length of a handshake nonce, in bytes. */
export const HANDSHAKE_NONCE_BYTES = 32;

/**
 * Default time a new connection has to complete its handshake, in ms (transports'
 * `helloTimeoutMs`); a connection still silent or half-way then is closed.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * Default most accepted connections that may be waiting for their handshake at once, per
 * transport (`maxPendingHandshakes`); further connections are closed at once.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 128;

/** Longest error message a refusing peer's error frame may carry into a log, in characters. */
const MAX_REMOTE_MESSAGE = 300;

/** Characters a node id may not hold, and that a peer's text may not carry into a log line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTER.source, 'g');

/**
 * What each side of a new connection says first. A node with a cluster secret adds `auth`
 * ({@link AUTH_ALGORITHM}) and a fresh `nonce`; the accepting side adds its `proof`.
 */
export interface Hello {
  protocol: string;
  id: NodeId;
  /** {@link AUTH_ALGORITHM} when the node has a cluster secret. */
  auth?: string;
  /** {@link HANDSHAKE_NONCE_BYTES} random bytes, fresh for every connection. */
  nonce?: Uint8Array;
  /** The accepting side's HMAC over the transcript (see {@link Handshake}). */
  proof?: Uint8Array;
  /** The dialer's credential, when the cluster has per-role secrets ({@link RoleSecrets}). */
  key?: CredentialRole;
}

/**
 * Encodes this node's plain hello (no authentication): the first frame each side of a
 * connection sends when no cluster secret is set. Transports run {@link Handshake}, which
 * produces this frame itself; the function stays for tools and tests that speak the protocol
 * by hand.
 */
export function encodeHello(id: NodeId): Uint8Array {
  return encode({ protocol: HANDSHAKE_PROTOCOL, id } satisfies Hello);
}

function decodeMap(frame: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    v = decode(frame);
  } catch {
    throw new PsError(PsErrorCode.HANDSHAKE, 'the first frame of the connection is not a @ps hello');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new PsError(PsErrorCode.HANDSHAKE, 'the first frame of the connection is not a @ps hello');
  }
  const { protocol } = v as { protocol?: unknown };
  if (protocol !== HANDSHAKE_PROTOCOL) {
    throw new PsError(
      PsErrorCode.HANDSHAKE,
      `peer speaks ${String(protocol)}, this node speaks ${HANDSHAKE_PROTOCOL}; run the same @ps version on every node`,
    );
  }
  return v as Record<string, unknown>;
}

/** True when a frame is a msgpack map of this protocol (so its sender can read an error frame). */
function speaksProtocol(frame: Uint8Array): boolean {
  try {
    decodeMap(frame);
    return true;
  } catch {
    return false;
  }
}

const isBytes = (v: unknown, n: number): v is Uint8Array => v instanceof Uint8Array && v.byteLength === n;

/**
 * Decodes and checks a peer's hello.
 * @throws PsError `PS_ERR_HANDSHAKE` when the bytes are not a hello of this protocol version,
 *   the id is empty, too long, not a string or holds control characters (ids go into log
 *   lines), or the authentication fields are malformed.
 */
export function decodeHello(frame: Uint8Array): Hello {
  const v = decodeMap(frame);
  const { protocol, id, auth, nonce, proof, key } = v as Partial<Hello>;
  if (
    typeof id !== 'string' ||
    id.length === 0 ||
    id.length > MAX_NODE_ID_LENGTH ||
    CONTROL_CHARACTER.test(id)
  ) {
    throw new PsError(
      PsErrorCode.HANDSHAKE,
      `peer sent an invalid node id (a string of 1 to ${MAX_NODE_ID_LENGTH} characters, none of them control characters, is needed)`,
    );
  }
  const hello: Hello = { protocol: protocol as string, id };
  if (auth !== undefined) {
    if (typeof auth !== 'string' || !isBytes(nonce, HANDSHAKE_NONCE_BYTES)) {
      throw new PsError(
        PsErrorCode.HANDSHAKE,
        `peer ${id} sent a hello with malformed authentication fields`,
      );
    }
    hello.auth = auth;
    hello.nonce = nonce;
  }
  if (key !== undefined) {
    if (key !== 'server' && key !== 'worker') {
      throw new PsError(PsErrorCode.HANDSHAKE, `peer ${id} sent a hello with an unknown credential`);
    }
    hello.key = key;
  }
  if (proof !== undefined) {
    if (!isBytes(proof, PROOF_BYTES)) {
      throw new PsError(PsErrorCode.HANDSHAKE, `peer ${id} sent a hello with a malformed proof`);
    }
    hello.proof = proof;
  }
  return hello;
}

/** Which end of a connection a {@link Handshake} runs at. */
export type HandshakeSide = 'dial' | 'accept';

/** Options of {@link Handshake}. */
export interface HandshakeOptions {
  /** `dial`: this node opened the connection and speaks first; `accept`: it accepted it. */
  side: HandshakeSide;
  /** This node's id. */
  self: NodeId;
  /** The cluster secret; without one the handshake is the plain hello exchange. */
  secret?: ClusterSecret | undefined;
  /**
   * Accepting side: called with the id a peer claims as soon as its hello arrives; returning a
   * `PsError` refuses the connection with it (a transport refuses, e.g., a peer that claims the
   * id of a node this transport dialed).
   */
  admit?: ((peer: NodeId) => PsError | undefined) | undefined;
}

/** What to do after a handshake frame: send a frame, then either go on, finish, or close. */
export interface HandshakeStep {
  /** A frame to send to the peer now (with `error`: an error frame to send before closing). */
  send?: Uint8Array;
  /** Set once the handshake completed: the peer's id, proven when a secret is set. */
  peer?: NodeId;
  /** Set when the handshake failed: send `send` if set, then close the connection. */
  error?: PsError;
}

/** `wait`: an HMAC is being computed or checked; any frame that arrives meanwhile fails the handshake. */
type State = 'start' | 'hello' | 'wait' | 'proof' | 'ok' | 'done' | 'failed';

/**
 * One connection's handshake, written once for every transport. The transport feeds it the
 * frames that arrive before the connection is open and sends what it answers.
 *
 * Without a cluster secret on either side it is the plain hello exchange: the dialer sends its
 * hello, the acceptor answers with its own, and both are open (one round trip).
 *
 * With a secret (mutual challenge and response; the secret never travels):
 * ```
 * dialer   -> acceptor  hello { protocol, id: D, auth, nonce: Nd }
 * acceptor -> dialer    hello { protocol, id: A, auth, nonce: Na, proof: HMAC(k, T('accept')) }
 * dialer   -> acceptor  { protocol, proof: HMAC(k, T('dial')) }
 * acceptor -> dialer    { protocol, ok: true }
 * T(label) = msgpack([protocol, label, Nd, Na, D, A])
 * ```
 * Each side checks the other's proof against its own nonce, so a recorded handshake replayed
 * on a new connection fails (the nonce differs); the direction label stops a proof from being
 * reflected back to the node that made it. Proofs are compared in constant time. The dialer
 * sends no other frame until `ok`, so every step that waits for WebCrypto has the line quiet.
 *
 * A peer with another secret, or none while this node has one (or the reverse), is refused with
 * `PS_ERR_AUTH`; the refusing side sends an error frame first, so the other side learns why.
 * `receive` answers synchronously wherever no HMAC is computed, so a transport can raise its
 * frame-size limit before it reads the next frame.
 */
export class Handshake {
  private state: State;
  private readonly side: HandshakeSide;
  private readonly self: NodeId;
  private readonly secret: ClusterSecret | undefined;
  private readonly admit: ((peer: NodeId) => PsError | undefined) | undefined;
  private readonly nonce: Uint8Array | undefined;
  private peerNonce: Uint8Array | undefined;
  private claimed: NodeId | undefined;
  /** The credential this connection proves (per-role secrets only), and the secret it uses. */
  private key: CredentialRole | undefined;
  private active: ClusterSecret | undefined;

  constructor(opts: HandshakeOptions) {
    this.side = opts.side;
    this.self = opts.self;
    this.secret = opts.secret;
    this.admit = opts.admit;
    this.state = opts.side === 'dial' ? 'start' : 'hello';
    this.active = this.secret;
    if (this.secret instanceof RoleSecrets && opts.side === 'dial') {
      this.key = this.secret.dialCredential;
      this.active = this.secret.credential(this.key);
    }
    if (this.secret) {
      this.nonce = globalThis.crypto.getRandomValues(new Uint8Array(HANDSHAKE_NONCE_BYTES));
    }
  }

  /** The id the peer claims, once its hello arrived (proven only once the handshake is done). */
  get peer(): NodeId | undefined {
    return this.claimed;
  }

  /** True once the handshake completed. */
  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Dialing side: the first frame to send.
   * @throws PsError `PS_ERR_PROTOCOL` on the accepting side or when called twice.
   */
  start(): Uint8Array {
    if (this.state !== 'start') {
      throw new PsError(PsErrorCode.PROTOCOL, 'Handshake.start() is for the dialing side, once');
    }
    this.state = 'hello';
    return this.helloFrame();
  }

  private helloFrame(proof?: Uint8Array): Uint8Array {
    const hello: Hello = { protocol: HANDSHAKE_PROTOCOL, id: this.self };
    if (this.secret) {
      hello.auth = AUTH_ALGORITHM;
      hello.nonce = this.nonce!;
      if (proof) hello.proof = proof;
      if (this.key && this.side === 'dial') hello.key = this.key;
    }
    return encode(hello);
  }

  /** Encodes an error frame: how a refusing side tells the other why. */
  static errorFrame(err: PsError): Uint8Array {
    return encode({ protocol: HANDSHAKE_PROTOCOL, error: err.toWire() });
  }

  private fail(error: PsError, tell = true): HandshakeStep {
    this.state = 'failed';
    return tell ? { error, send: Handshake.errorFrame(error) } : { error };
  }

  /** The error a peer's error frame carries, if the frame is one. */
  private remoteError(v: Record<string, unknown>): PsError | undefined {
    const e = v.error as { code?: unknown; message?: unknown } | undefined;
    if (!e || typeof e !== 'object') return undefined;
    const code =
      isPsErrorCode(e.code) && (e.code === PsErrorCode.AUTH || e.code === PsErrorCode.RATE_LIMIT)
        ? e.code
        : PsErrorCode.HANDSHAKE;
    const text =
      typeof e.message === 'string'
        ? e.message.slice(0, MAX_REMOTE_MESSAGE).replace(CONTROL_CHARACTERS, ' ')
        : 'no reason given';
    return new PsError(code, `${this.claimed ?? 'the peer'} refused the connection: ${text}`, {
      remote: true,
    });
  }

  /**
   * Feeds one frame the peer sent during the handshake. Never throws: a bad frame gives a step
   * with `error`. Returns a Promise only where an HMAC is computed (the peer waits meanwhile).
   * A refusal carries an error frame to send (`send`) when the peer speaks this protocol and
   * should learn why (a secret mismatch, a refused id); a frame that is no handshake frame at
   * all is refused without one.
   */
  receive(frame: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    try {
      return this.step(frame);
    } catch (err) {
      const e = err instanceof PsError ? err : new PsError(PsErrorCode.HANDSHAKE, String(err));
      return this.fail(e, speaksProtocol(frame));
    }
  }

  private step(frame: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    switch (this.state) {
      case 'hello':
        return this.side === 'dial' ? this.onAcceptorHello(frame) : this.onDialerHello(frame);
      case 'proof':
        return this.onDialerProof(frame);
      case 'ok':
        return this.onOk(frame);
      case 'start':
        return this.fail(new PsError(PsErrorCode.HANDSHAKE, 'a frame arrived before this side said hello'));
      case 'wait':
        return this.fail(
          new PsError(
            PsErrorCode.HANDSHAKE,
            `${this.claimed ?? 'the peer'} sent a frame before its previous handshake frame was answered`,
          ),
        );
      default:
        return this.fail(
          new PsError(PsErrorCode.HANDSHAKE, `a handshake frame arrived after the handshake ${this.state}`),
          false,
        );
    }
  }

  private transcript(label: 'accept' | 'dial', peerId: NodeId): Uint8Array {
    const [nd, na] = this.side === 'dial' ? [this.nonce, this.peerNonce] : [this.peerNonce, this.nonce];
    const [d, a] = this.side === 'dial' ? [this.self, peerId] : [peerId, this.self];
    // The credential is part of what both proofs cover (absent with a single secret, as before).
    return encode(
      this.key
        ? [HANDSHAKE_PROTOCOL, label, nd, na, d, a, this.key]
        : [HANDSHAKE_PROTOCOL, label, nd, na, d, a],
    );
  }

  /** Accepting side: the dialer's hello. */
  private onDialerHello(frame: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    const hello = decodeHello(frame);
    this.claimed = hello.id;
    if (hello.id === this.self) {
      return this.fail(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `peer claims this node's own id ${hello.id}; give every node a unique id`,
        ),
      );
    }
    const refused = this.admit?.(hello.id);
    if (refused) return this.fail(refused);
    if (!this.secret) {
      if (hello.auth !== undefined) {
        return this.fail(
          new PsError(
            PsErrorCode.AUTH,
            `peer ${hello.id} has a cluster secret but this node has none; give every node the same secret`,
          ),
        );
      }
      this.state = 'done';
      return { send: this.helloFrame(), peer: hello.id };
    }
    if (hello.auth === undefined) {
      return this.fail(
        new PsError(
          PsErrorCode.AUTH,
          `peer ${hello.id} has no cluster secret but this node requires one; give every node the same secret`,
        ),
      );
    }
    if (hello.auth !== AUTH_ALGORITHM) {
      return this.fail(
        new PsError(
          PsErrorCode.AUTH,
          `peer ${hello.id} asks for ${hello.auth}; this node speaks ${AUTH_ALGORITHM}`,
        ),
      );
    }
    if (this.secret instanceof RoleSecrets) {
      const cred = hello.key === undefined ? undefined : this.secret.credential(hello.key);
      if (!cred) {
        return this.fail(
          new PsError(
            PsErrorCode.AUTH,
            hello.key === undefined
              ? `peer ${hello.id} proves no role, but this cluster has a secret per role; give it its role's secret (RoleSecrets)`
              : `this ${this.secret.role} takes no ${hello.key} credential from ${hello.id}`,
          ),
        );
      }
      this.active = cred;
    }
    this.key = hello.key;
    this.peerNonce = hello.nonce!;
    this.state = 'wait';
    const secret = this.active!;
    return secret.sign(this.transcript('accept', hello.id)).then(
      (proof): HandshakeStep => {
        if (this.state !== 'wait') return {};
        this.state = 'proof';
        return { send: this.helloFrame(proof) };
      },
      (err: unknown) => this.fail(new PsError(PsErrorCode.AUTH, `cannot compute the proof: ${String(err)}`)),
    );
  }

  /** Dialing side: the acceptor's hello (with its proof when a secret is set). */
  private onAcceptorHello(frame: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    const v = decodeMap(frame);
    const remote = this.remoteError(v);
    if (remote) return this.fail(remote, false);
    const hello = decodeHello(frame);
    this.claimed = hello.id;
    if (hello.id === this.self) {
      return this.fail(
        new PsError(
          PsErrorCode.HANDSHAKE,
          `peer claims this node's own id ${hello.id}; give every node a unique id`,
        ),
      );
    }
    if (!this.secret) {
      if (hello.auth !== undefined) {
        return this.fail(
          new PsError(
            PsErrorCode.AUTH,
            `peer ${hello.id} requires a cluster secret but this node has none; give every node the same secret`,
          ),
        );
      }
      this.state = 'done';
      return { peer: hello.id };
    }
    if (hello.auth !== AUTH_ALGORITHM || hello.proof === undefined) {
      return this.fail(
        new PsError(
          PsErrorCode.AUTH,
          `peer ${hello.id} did not authenticate (no cluster secret, or an older @ps); this node requires the cluster secret`,
        ),
      );
    }
    this.peerNonce = hello.nonce!;
    this.state = 'wait';
    const secret = this.active!;
    const proof = hello.proof;
    return (async (): Promise<HandshakeStep> => {
      const good = await secret.verify(proof, this.transcript('accept', hello.id));
      if (this.state !== 'wait') return {};
      if (!good) {
        return this.fail(
          new PsError(
            PsErrorCode.AUTH,
            `peer ${hello.id} could not prove it holds the cluster secret: the two nodes have different secrets`,
          ),
        );
      }
      const mine = await secret.sign(this.transcript('dial', hello.id));
      if (this.state !== 'wait') return {};
      this.state = 'ok';
      return { send: encode({ protocol: HANDSHAKE_PROTOCOL, proof: mine }) };
    })().catch((err: unknown) =>
      this.fail(new PsError(PsErrorCode.AUTH, `cannot check the proof: ${String(err)}`)),
    );
  }

  /** Accepting side: the dialer's proof. */
  private onDialerProof(frame: Uint8Array): HandshakeStep | Promise<HandshakeStep> {
    const v = decodeMap(frame);
    const peer = this.claimed!;
    const remote = this.remoteError(v);
    if (remote) return this.fail(remote, false);
    const proof = v.proof;
    if (!isBytes(proof, PROOF_BYTES)) {
      return this.fail(
        new PsError(PsErrorCode.AUTH, `peer ${peer} sent no valid proof of the cluster secret`),
      );
    }
    this.state = 'wait';
    return this.active!.verify(proof, this.transcript('dial', peer)).then(
      (good): HandshakeStep => {
        if (this.state !== 'wait') return {};
        if (!good) {
          return this.fail(
            new PsError(
              PsErrorCode.AUTH,
              `peer ${peer} failed to prove it holds the cluster secret (a wrong secret, or a replayed handshake)`,
            ),
          );
        }
        this.state = 'done';
        if (this.secret instanceof RoleSecrets && this.key) this.secret.recordProven(peer, this.key);
        return { send: encode({ protocol: HANDSHAKE_PROTOCOL, ok: true }), peer };
      },
      (err: unknown) => this.fail(new PsError(PsErrorCode.AUTH, `cannot check the proof: ${String(err)}`)),
    );
  }

  /** Dialing side: the acceptor's verdict on our proof. */
  private onOk(frame: Uint8Array): HandshakeStep {
    const v = decodeMap(frame);
    const remote = this.remoteError(v);
    if (remote) return this.fail(remote, false);
    if (v.ok !== true) {
      return this.fail(
        new PsError(PsErrorCode.HANDSHAKE, `peer ${this.claimed} did not confirm the handshake`),
      );
    }
    this.state = 'done';
    return { peer: this.claimed! };
  }
}
