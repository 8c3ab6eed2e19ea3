// The Node side of test/fixtures/browser-frames/page.ts: a page cannot listen, so it asks this
// relay, over one control WebSocket, to listen with the Node medium (`WsFrameTransport`), and the
// relay mirrors each accepted channel to the page: its frames (binary messages: channel id, then
// the frame), its end, and the results of the page's sends, in the order they happened.
import type { AddressInfo } from 'node:net';
import { type FrameChannel, InboundBudget, PsError, type PsErrorCode } from '@ps/core';
import { WsFrameTransport } from '@ps/transport-ws';
import { type WebSocket, WebSocketServer } from 'ws';

export interface FrameRelay {
  /** The control endpoint, `ws://127.0.0.1:<port>/`. */
  url: string;
  close(): Promise<void>;
}

export async function startFrameRelay(): Promise<FrameRelay> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const everything: WsFrameTransport[] = [];
  wss.on('connection', (control) => serve(control, everything));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    close: async () => {
      await Promise.all(everything.map((t) => t.close()));
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
}

function serve(control: WebSocket, everything: WsFrameTransport[]): void {
  const listeners = new Map<number, WsFrameTransport>();
  const channels = new Map<number, FrameChannel>();
  let nextListener = 0;
  let nextChan = 0;
  const say = (m: Record<string, unknown>) => control.send(JSON.stringify(m));

  control.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      // A send of the page on an accepted channel: channel id, request id, the frame.
      const chan = data.readUInt32LE(0);
      const req = data.readUInt32LE(4);
      const ch = channels.get(chan);
      const frame = new Uint8Array(data.buffer, data.byteOffset + 8, data.byteLength - 8);
      if (!ch) return;
      ch.send([frame]).then(
        () => say({ op: 'sent', chan, req }),
        (e: PsError) => say({ op: 'sent', chan, req, code: e.code, message: e.message }),
      );
      return;
    }
    const m = JSON.parse(data.toString()) as Record<string, unknown>;
    if (m.op === 'listen') {
      const t = new WsFrameTransport();
      everything.push(t);
      const id = ++nextListener;
      const budget = new InboundBudget();
      t.listen(
        { host: m.host as string, port: m.port as number },
        () => ({ maxFrameBytes: m.maxFrameBytes as number, budget }),
        (ch) => {
          const chan = ++nextChan;
          channels.set(chan, ch);
          say({ op: 'accept', listener: id, chan, source: ch.source });
          ch.frames$.subscribe({
            next: (f) => {
              const bytes = f instanceof Uint8Array ? f : Buffer.concat(f as Uint8Array[]);
              const head = Buffer.alloc(4);
              head.writeUInt32LE(chan, 0);
              control.send(Buffer.concat([head, bytes]));
            },
            error: (e: PsError) => say({ op: 'end', chan, kind: 'error', code: e.code, message: e.message }),
            complete: () => say({ op: 'end', chan, kind: 'complete' }),
          });
        },
      ).then(
        (at) => {
          listeners.set(id, t);
          say({ req: m.req, listener: id, port: at.port });
        },
        (e: PsError) => say({ req: m.req, error: e.message, code: e.code }),
      );
    } else if (m.op === 'close-listener') {
      const t = listeners.get(m.listener as number);
      void (t ? t.close() : Promise.resolve()).then(() => say({ req: m.req }));
    } else if (m.op === 'setmax') {
      channels.get(m.chan as number)?.setMaxFrameBytes(m.bytes as number);
      say({ req: m.req });
    } else if (m.op === 'close') {
      const ch = channels.get(m.chan as number);
      if (m.code) ch?.close(new PsError(m.code as PsErrorCode, m.message as string));
      else ch?.close();
    }
  });
}
