/**
 * auth/: user authentication (RFC 4252, RFC 4256 keyboard-interactive, RFC 8308 server-sig-algs,
 * RFC 8332 RSA SHA-2 signatures, OpenSSH's publickey-hostbound-v00), client and server, over a Transport
 * whose first key exchange is done. Every server decision goes through one async AuthPolicy.
 *
 * Both sides take the transport's message handler while they run and give it up when they settle: the
 * transport stays paused until the next macrotask, so the layer above must set its own handler in the
 * continuation of the await (messages that follow USERAUTH_SUCCESS then reach it, none are lost).
 */
export {
  authenticateClient,
  type ClientAuthMethod,
  type ClientAuthOptions,
  type ClientAuthResult,
  type UserKeySigner,
} from "./clientAuth.js";
export { authenticateServer, type AuthenticatedUser, type ServerAuthOptions } from "./serverAuth.js";
export { constantTimeEqual, type AuthPolicy, type KeyboardInteractiveChallenge } from "./policy.js";
export { MethodChains } from "./policy.js";
export { publicKeySignedData, type PublicKeyRequestFields } from "./signedData.js";
