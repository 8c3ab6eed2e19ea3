import { runFrameTransportConformance, selfSignedCertificate } from '@ps/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
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
