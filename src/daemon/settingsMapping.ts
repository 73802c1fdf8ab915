/**
 * sshd_config settings (one connection's, after its Match blocks) to the LoginSettings that the
 * system-account policy and the login process read, and to the per-connection options of the library
 * server (Banner, MaxAuthTries, LoginGraceTime, AuthenticationMethods, MaxSessions).
 */
import fs from "node:fs";
import type { SshdSettings } from "../config/sshdConfig.js";
import type { ServerConnectionOverrides } from "../server/index.js";
import type { DaemonLog } from "./log.js";
import type { LoginSettings } from "./loginSettings.js";

/** The LoginSettings for one user's connection. */
export function loginSettingsFrom(s: SshdSettings): LoginSettings {
  const userEnv = s.permitUserEnvironment;
  const settings: LoginSettings = {
    permitRootLogin: s.permitRootLogin,
    pubkeyAuthentication: s.pubkeyAuthentication,
    passwordAuthentication: s.passwordAuthentication,
    kbdInteractiveAuthentication: s.kbdInteractiveAuthentication,
    permitEmptyPasswords: s.permitEmptyPasswords,
    usePAM: s.usePam,
    authorizedKeysFiles: s.authorizedKeysFiles,
    strictModes: s.strictModes,
    allowUsers: s.allowUsers,
    denyUsers: s.denyUsers,
    allowGroups: s.allowGroups,
    denyGroups: s.denyGroups,
    permitTTY: s.permitTty,
    permitUserRC: s.permitUserRc,
    // sshd_config(5): yes, no, or a pattern list of the variable names allowed.
    permitUserEnvironment: typeof userEnv === "string" ? userEnv.split(",") : userEnv,
    acceptEnv: s.acceptEnv,
    setEnv: [...s.setEnv].map(([name, value]) => `${name}=${value}`),
    printMotd: s.printMotd,
    printLastLog: s.printLastLog,
    subsystems: Object.fromEntries(s.subsystems),
  };
  const akc = s.authorizedKeysCommand;
  if (akc !== null) settings.authorizedKeysCommand = akc;
  const akcUser = s.authorizedKeysCommandUser;
  if (akcUser !== null) settings.authorizedKeysCommandUser = akcUser;
  const force = s.forceCommand;
  if (force !== null) settings.forceCommand = force;
  const chroot = s.chrootDirectory;
  if (chroot !== null) settings.chrootDirectory = chroot;
  const banner = s.banner;
  if (banner !== null) settings.banner = banner;
  // PAMServiceName's default ("sshd") leaves the choice to the login code, which prefers an "nsshd"
  // service when /etc/pam.d/nsshd exists; any other value is the administrator's.
  const pamService = s.get("pamservicename");
  if (pamService !== undefined && pamService !== "sshd") settings.pamService = pamService;
  return settings;
}

/** sshd sends at most this much of a Banner file (it reads the whole file; we bound it). */
const MAX_BANNER_BYTES = 64 * 1024;

/** Read the Banner file as sshd does at each connection; a missing file is logged and sends nothing. */
export function readBanner(file: string | null, log: DaemonLog): string | undefined {
  if (file === null) return undefined;
  try {
    const data = fs.readFileSync(file);
    return data.subarray(0, MAX_BANNER_BYTES).toString("utf8");
  } catch (err) {
    log.error(`Banner file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

/** The library server's per-connection options from the connection's settings. */
export function connectionOverridesFrom(
  s: SshdSettings,
  log: DaemonLog,
): Omit<ServerConnectionOverrides, "auth" | "onSession" | "log"> {
  const methods = s.authenticationMethods;
  const banner = readBanner(s.banner, log);
  return {
    maxAuthTries: s.maxAuthTries,
    publicKeyAlgorithms: s.pubkeyAcceptedAlgorithms,
    loginGraceTime: s.loginGraceTime,
    maxSessions: s.maxSessions,
    ...(methods ? { authenticationMethods: methods } : {}),
    ...(banner !== undefined ? { banner } : {}),
  };
}
