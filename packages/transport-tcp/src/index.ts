export { HELLO_MAX_BYTES } from '@ps/core';
export type { DirectReadSink, DirectReads } from './direct-reads.js';
export { FrameReader, type FrameReaderBudget } from './frame-reader.js';
export { looksLikeTls, TcpChannel, type TcpChannelOptions } from './tcp-channel.js';
export { type TcpFrameOptions, TcpFrameTransport } from './tcp-frames.js';
export type { TcpTlsOptions } from './tcp-tls-options.js';
export { TcpTransport, type TcpTransportOptions, tcp } from './tcp-transport.js';
