export { HELLO_MAX_BYTES } from '@ps/core';
export { FrameReader } from './frame-reader.js';
export { looksLikeTls, TcpChannel, type TcpChannelOptions } from './tcp-channel.js';
export { type TcpFrameOptions, TcpFrameTransport } from './tcp-frames.js';
export type { TcpTlsOptions } from './tcp-tls-options.js';
export { TcpTransport, type TcpTransportOptions, tcp } from './tcp-transport.js';
