export { InprocFrameTransport, type InprocFrameTransportOptions } from './inproc-frame-transport.js';
export { defaultInprocHub, InprocHub } from './inproc-hub.js';
export { InprocTransport, type InprocTransportOptions, inproc } from './inproc-transport.js';
export { ThreadFrameTransport, type ThreadFrameTransportOptions } from './thread-frame-transport.js';
export { ThreadHub } from './thread-hub.js';
export { ThreadTransport, type ThreadTransportOptions, threads } from './thread-transport.js';
