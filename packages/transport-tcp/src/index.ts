export { FrameReader } from './frame-reader.js';
export { TcpTransport, type TcpTransportOptions, tcp } from './tcp-transport.js';
