/**
 * nssh: the Secure Shell system in TypeScript. This entry exports the library's public API; the
 * layers below are importable for embedding at a lower level.
 */
export * from "./wire/index.js";
export * from "./keys/index.js";
export {
  Transport,
  type TransportOptions,
  type HostKeySigner,
  type HostKeyVerifier,
} from "./transport/index.js";
export {
  DEFAULT_KEX,
  DEFAULT_CIPHERS,
  DEFAULT_MACS,
  DEFAULT_HOST_KEY_ALGORITHMS,
  KEX_ALGORITHMS,
  CIPHERS,
  MACS,
  COMPRESSIONS,
} from "./crypto/index.js";
