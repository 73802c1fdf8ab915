/**
 * session/: session channels (RFC 4254 §6) on both sides: PTY requests and terminal modes, environment,
 * shell/exec/subsystem, window changes, signals and exit status; and running real programs for them.
 */
export * from "./terminalModes.js";
export * from "./signals.js";
export * from "./requests.js";
export { ClientSession, openSession, type PtyOptions, type SessionExit } from "./clientSession.js";
export {
  ServerSession,
  type RunOptions,
  type ServerSessionEvents,
  type ServerSessionOptions,
  type SessionStart,
} from "./serverSession.js";
export {
  startProcess,
  type ProcessExit,
  type ProcessSpec,
  type ProgramSpawner,
  type ProgramStart,
  type RunningProcess,
} from "./processRunner.js";
