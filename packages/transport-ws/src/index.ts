/**
 * @ps/transport-ws: the WebSocket transport (`ws` on Node, the platform WebSocket in a browser).
 *
 * Not implemented yet: this package is a skeleton until its issue ("WebSocket transport, workers
 * in a browser tab") lands. It exports only its version so that nothing fake stands in for it.
 */
export const TRANSPORT_WS_STATUS = 'skeleton' as const;
