export { FrameReader } from './frame-reader.js';
export { HELLO_MAX_BYTES, TcpTransport, type TcpTransportOptions, tcp } from './tcp-transport.js';
