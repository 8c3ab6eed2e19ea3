/** The part of the platform `WebSocket` (WHATWG) that the browser medium uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  /** `data` is an `ArrayBuffer` for a binary message (with `binaryType = 'arraybuffer'`), a string for text. */
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** `code` and `reason` of the close frame (1006 and `''` when there was none). */
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
}

/** A constructor like the platform `WebSocket`. */
export type WebSocketConstructorLike = new (url: string) => WebSocketLike;
