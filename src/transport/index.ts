/**
 * transport/: the SSH transport layer (RFC 4253): version exchange, binary packets, key exchange and
 * re-keying, strict KEX, ext-info, and the allow-list of messages per phase and role.
 */
export {
  Transport,
  DEFAULT_SOFTWARE_VERSION,
  type MessageHandler,
  type TransportEvents,
} from "./transport.js";
export {
  resolveLists,
  type TransportOptions,
  type TransportLogger,
  type LogLevel,
  type AlgorithmListSpec,
} from "./options.js";
export type { HostKeySigner, HostKeyVerifier, HostKeyInfo } from "./hostKeys.js";
export type { NegotiatedAlgorithms } from "./kexInit.js";
export { NegotiationError, negotiationLogLine } from "./negotiationError.js";
export type { Phase, Role } from "./messagePolicy.js";
export { MAX_PACKET_LENGTH } from "../crypto/index.js";
export type { TransportHandoff, DirectionHandoff } from "./handoff.js";
export { arenaSocketFor, readArenaSocket, type OnReadOptions } from "./readArena.js";
