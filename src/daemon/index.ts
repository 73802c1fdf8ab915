/**
 * daemon/: what only nsshd needs. The listener and its configuration generations (daemon.ts), one
 * connection's life (daemonConnection.ts), listening sockets, MaxStartups, the log in sshd's wording,
 * inetd mode, the embedded mode's state folder; system accounts, PAM and the login process
 * (systemAuthPolicy.ts, login.ts), and the mapping of sshd_config onto them (settingsMapping.ts).
 */
export { Daemon, loadHostKeyFile, type DaemonEvents, type DaemonOptions } from "./daemon.js";
export {
  DaemonConnection,
  type ConnectionContext,
  type ConnectionPolicy,
  type LoginBackend,
} from "./daemonConnection.js";
export { defaultLoginBackend, systemLoginBackend } from "./daemonLogin.js";
export { stdioConnection, UNKNOWN_ADDRESS, UNKNOWN_PORT } from "./inetd.js";
export {
  bindAll,
  closeAll,
  listenSpecs,
  noAddressBound,
  type AddressFamily,
  type ListenSpec,
} from "./listen.js";
export {
  createDaemonLog,
  debugLevelFor,
  escapeLogText,
  isSyslogFacility,
  LOG_LEVELS,
  parseLogLevel,
  silentLog,
  type DaemonLog,
  type DaemonLogDestination,
  type DaemonLogger,
  type DaemonLogLevel,
  type DaemonLogOptions,
} from "./log.js";
export { dropPercent, shouldDrop, StartupTracker, type MaxStartups } from "./maxStartups.js";
export { connectionOverridesFrom, loginSettingsFrom, readBanner } from "./settingsMapping.js";
export {
  defaultStateDir,
  embeddedConfigText,
  ensureStateDir,
  EMBEDDED_LISTEN_ADDRESS,
  EMBEDDED_PORT,
  SYSTEM_CONFIG_FILE,
  SYSTEM_HOST_KEYS,
  SYSTEM_PID_FILE,
  type StateDir,
} from "./stateDir.js";
export { createSystemAuthPolicy, type LoginGrant, type SystemAuthPolicy } from "./systemAuthPolicy.js";
export { startLoginSession } from "./login.js";
export { defaultLoginSettings, type LoginSettings } from "./loginSettings.js";
