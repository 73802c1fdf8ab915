/**
 * connection/: the SSH connection protocol (RFC 4254 §4-§7 without the session semantics): channels
 * and their windows, one Duplex per channel with back-pressure both ways, channel and global requests,
 * and the decoding of the forwarding channel types and requests for the layers above.
 */
export {
  Connection,
  DEFAULT_MAX_CHANNELS,
  type ConnectionOptions,
  type ConnectionEvents,
} from "./connection.js";
export { ChannelOpenError, type IncomingChannelOpen, type ChannelOpenHandler } from "./channelOpen.js";
export { Channel, type ChannelOptions, type ChannelRequestListener } from "./channel.js";
export { DEFAULT_WINDOW, DEFAULT_MAX_PACKET, MAX_WINDOW } from "./channelWindow.js";
export {
  ChannelOpenFailure,
  channelOpenFailureText,
  decodeChannelOpenInfo,
  encodeChannelOpenInfo,
  type ChannelOpenInfo,
  type DirectTcpipInfo,
  type ForwardedTcpipInfo,
  type X11Info,
  type StreamlocalInfo,
} from "./channelTypes.js";
export {
  decodeGlobalRequestInfo,
  encodeGlobalRequestInfo,
  encodeTcpipForwardReply,
  KEEPALIVE_REQUEST,
  NO_MORE_SESSIONS_REQUEST,
  type GlobalReply,
  type GlobalRequestHandler,
  type GlobalRequestInfo,
  type TcpipForwardRequest,
  type StreamlocalForwardRequest,
} from "./globalRequests.js";
