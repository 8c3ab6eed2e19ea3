import { PsError, PsErrorCode } from '../errors.js';
import type { RequestHandler } from '../kv-server.js';
import type { Ring } from '../membership/ring.js';
import type { Message, NodeId, Segment } from '../wire/message.js';
import { answerRange } from './range-answer.js';
import { type RangeAnswerWire, rangeAnswerMeta } from './range-page.js';
import { rangeRequestFromWire } from './range-request.js';
import { firstNotOwned } from './range-slices.js';

/** A server's reply to a range pull request: the answer's segments and its `meta.range`. */
export interface RangeReply {
  data: Segment[];
  range: RangeAnswerWire;
}

/** Bytes of a frame left for the meta and segment table of a range pull's answer. */
const FRAME_HEADROOM = 4096;

/**
 * Serves a range pull request on server `id`: reads `meta.range`, checks that this server owns
 * every part on its ring (and that the worker sliced by this ring or a newer one), and answers
 * `[vals, lens, keys]` from the handler's table, within `maxFrameBytes` (less a little headroom
 * for the meta) whatever budget the worker asked for.
 * @throws PsError `PS_ERR_RANGE_INVALID` for a malformed request, `PS_ERR_WRONG_OWNER` when a part
 *   is not this server's (the worker re-slices), and what `answerRange` throws.
 */
export function serveRange(
  msg: Message,
  handler: RequestHandler,
  ring: Ring | undefined,
  id: NodeId,
  maxFrameBytes: number,
): RangeReply {
  const req = rangeRequestFromWire(msg.meta.range);
  req.maxBytes = Math.min(req.maxBytes, Math.max(1024, maxFrameBytes - FRAME_HEADROOM));
  const stale = ring !== undefined && msg.meta.ring !== undefined && msg.meta.ring < ring.version;
  const foreign = ring === undefined || ring.size === 0 ? req.ranges[0] : firstNotOwned(ring, id, req.ranges);
  if (stale || foreign) {
    const at = foreign ?? req.ranges[0]!;
    throw new PsError(
      PsErrorCode.WRONG_OWNER,
      `server ${id} does not own all of [${at.begin}, ${at.end}) on ring ${ring?.version ?? 0}; the worker re-slices the range pull by the newer ring and resends`,
    );
  }
  const a = answerRange(handler, req);
  return { data: [a.vals, a.lens, a.keys], range: rangeAnswerMeta(a.next) };
}
