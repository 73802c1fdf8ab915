/**
 * nssh: the Secure Shell system in TypeScript. The front doors are connect() and createServer(); the
 * layers below are exported for programs that embed SSH at a lower level.
 */
export * from "./wire/index.js";
export * from "./keys/index.js";
export {
  connect,
  SshClient,
  type ConnectOptions,
  type ExecOptions,
  type ExecResult,
  type SessionOptions,
} from "./client/index.js";
export {
  createServer,
  defaultSessionEnv,
  SshServer,
  type ServerConnection,
  type ServerConnectionInfo,
  type ServerOptions,
} from "./server/index.js";
export {
  constantTimeEqual,
  type AuthPolicy,
  type AuthenticatedUser,
  type UserKeySigner,
} from "./auth/index.js";
export { AgentClient, type AgentKey } from "./agent/index.js";
export {
  Connection,
  Channel,
  ChannelOpenError,
  ChannelOpenFailure,
  type IncomingChannelOpen,
} from "./connection/index.js";
export {
  ClientSession,
  ServerSession,
  type PtyOptions,
  type SessionExit,
  type SessionStart,
  type RunOptions,
  type ProcessExit,
  type TerminalModes,
} from "./session/index.js";
export {
  Transport,
  type TransportOptions,
  type HostKeySigner,
  type HostKeyVerifier,
  type HostKeyInfo,
  type NegotiatedAlgorithms,
  type TransportLogger,
  type LogLevel,
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
export {
  SftpClient,
  SftpError,
  serveSftp,
  handleSftpSubsystem,
  DiskFileSystem,
  MemoryFileSystem,
  type SftpServerOptions,
  type SftpFileSystem,
  type SftpAttrs,
  type TransferOptions,
  type TransferProgress,
} from "./sftp/index.js";
