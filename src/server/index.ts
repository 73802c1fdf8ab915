/** server/: the library's server front door, createServer(), in one process. */
export {
  createServer,
  defaultSessionEnv,
  SshServer,
  type ServerConnection,
  type ServerConnectionInfo,
  type ServerConnectionOverrides,
  type ServerEvents,
  type ServerOptions,
} from "./server.js";
