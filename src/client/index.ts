/** client/: the library's client front door, connect(). */
export {
  connect,
  SshClient,
  type ConnectOptions,
  type ExecOptions,
  type ExecResult,
  type SessionOptions,
} from "./client.js";
export { expandHome, loadIdentities, type IdentitySource } from "./identities.js";
