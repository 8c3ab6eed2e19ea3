import { decode, encode } from '@msgpack/msgpack';
import { PsError, PsErrorCode } from './errors.js';
import type { NodeId } from './message.js';

/** Protocol name and version a hello carries; a peer with another one is refused. */
export const HANDSHAKE_PROTOCOL = 'ps/1';

/** Longest node id accepted in a handshake, in characters. */
export const MAX_NODE_ID_LENGTH = 128;

/** What each side of a new connection says first. */
export interface Hello {
  protocol: string;
  id: NodeId;
}

/**
 * Encodes this node's hello: the first frame each side of a connection sends. Shared by every
 * transport so that the handshake (and later, its authentication) is written once.
 */
export function encodeHello(id: NodeId): Uint8Array {
  return encode({ protocol: HANDSHAKE_PROTOCOL, id } satisfies Hello);
}

/**
 * Decodes and checks a peer's hello.
 * @throws PsError `PS_ERR_HANDSHAKE` when the bytes are not a hello of this protocol version or
 *   the id is empty, too long or not a string.
 */
export function decodeHello(frame: Uint8Array): Hello {
  let v: unknown;
  try {
    v = decode(frame);
  } catch {
    throw new PsError(PsErrorCode.HANDSHAKE, 'the first frame of the connection is not a @ps hello');
  }
  if (!v || typeof v !== 'object') {
    throw new PsError(PsErrorCode.HANDSHAKE, 'the first frame of the connection is not a @ps hello');
  }
  const { protocol, id } = v as Partial<Hello>;
  if (protocol !== HANDSHAKE_PROTOCOL) {
    throw new PsError(
      PsErrorCode.HANDSHAKE,
      `peer speaks ${String(protocol)}, this node speaks ${HANDSHAKE_PROTOCOL}; run the same @ps version on every node`,
    );
  }
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_NODE_ID_LENGTH) {
    throw new PsError(
      PsErrorCode.HANDSHAKE,
      `peer sent an invalid node id (a string of 1 to ${MAX_NODE_ID_LENGTH} characters is needed)`,
    );
  }
  return { protocol, id };
}
