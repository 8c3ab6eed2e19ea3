import { runFrameTransportConformance, runMessageLayerSuite, selfSignedCertificate } from '@ps/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpChannel } from './tcp-channel.js';
import { TcpFrameTransport } from './tcp-frames.js';

const api = { describe, it, expect, afterEach };

runFrameTransportConformance(api, 'tcp', () => new TcpFrameTransport(), { partialFrames: true });

const { cert, key } = await selfSignedCertificate();
runFrameTransportConformance(
  api,
  'tcp over TLS',
  () => new TcpFrameTransport({ tls: { cert, key, ca: cert } }),
  {
    partialFrames: true,
  },
);

runMessageLayerSuite(api, 'over tcp', () => new TcpFrameTransport(), {
  stopReading: (ch) => (ch as TcpChannel).socket.pause(),
});
runMessageLayerSuite(
  api,
  'over tcp with TLS',
  () => new TcpFrameTransport({ tls: { cert, key, ca: cert } }),
  {
    stopReading: (ch) => (ch as TcpChannel).socket.pause(),
  },
);
