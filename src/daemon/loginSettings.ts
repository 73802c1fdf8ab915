/**
 * LoginSettings: the sshd_config(5) values that the system-account policy (systemAuthPolicy.ts) and the
 * login process (login.ts) use, as one plain object, after Match blocks have been applied for the user
 * and connection. The daemon maps its parsed configuration onto it; defaultLoginSettings() holds
 * sshd's compiled-in defaults (Debian's where its package changes them: UsePAM, the PATH).
 */

/** The daemon's log, one function a level (the shape of daemon/log.ts DaemonLog). */
export interface LoginLog {
  error(m: string): void;
  info(m: string): void;
  verbose(m: string): void;
  debug1(m: string): void;
  debug2(m: string): void;
  debug3(m: string): void;
}

export type PermitRootLogin = "yes" | "prohibit-password" | "forced-commands-only" | "no";

export interface LoginSettings {
  permitRootLogin: PermitRootLogin;
  pubkeyAuthentication: boolean;
  passwordAuthentication: boolean;
  kbdInteractiveAuthentication: boolean;
  permitEmptyPasswords: boolean;
  usePAM: boolean;
  /** AuthorizedKeysFile: paths with %h %u %U %% tokens; relative ones are under the home folder. "none" disables. */
  authorizedKeysFiles: string[];
  /** AuthorizedKeysCommand: an absolute path and arguments (tokens %u %U %k %t %f %h %%), or none. */
  authorizedKeysCommand?: string;
  authorizedKeysCommandUser?: string;
  strictModes: boolean;
  /** AllowUsers/DenyUsers: `user` or `user@host` patterns; AllowGroups/DenyGroups: group name patterns. */
  allowUsers: string[];
  denyUsers: string[];
  allowGroups: string[];
  denyGroups: string[];
  forceCommand?: string;
  permitTTY: boolean;
  /** PermitUserRC: run ~/.ssh/rc. */
  permitUserRC: boolean;
  /** PermitUserEnvironment: no, yes, or the names (patterns) allowed from ~/.ssh/environment and environment=. */
  permitUserEnvironment: boolean | string[];
  /** AcceptEnv name patterns. */
  acceptEnv: string[];
  /** SetEnv NAME=value entries. */
  setEnv: string[];
  printMotd: boolean;
  printLastLog: boolean;
  /** Subsystem name -> command ("internal-sftp" is served in-process). */
  subsystems: Record<string, string>;
  /** ChrootDirectory, tokens unexpanded (~ %h %u %U %i %%; chroot.ts resolveChrootDirectory); "none" or unset: none. */
  chrootDirectory?: string;
  banner?: string;
  /** The PAM service (default: "nsshd" when /etc/pam.d/nsshd exists, else "sshd"). */
  pamService?: string;
}

export function defaultLoginSettings(): LoginSettings {
  return {
    permitRootLogin: "prohibit-password",
    pubkeyAuthentication: true,
    passwordAuthentication: true,
    kbdInteractiveAuthentication: true,
    permitEmptyPasswords: false,
    usePAM: true,
    authorizedKeysFiles: [".ssh/authorized_keys", ".ssh/authorized_keys2"],
    strictModes: true,
    allowUsers: [],
    denyUsers: [],
    allowGroups: [],
    denyGroups: [],
    permitTTY: true,
    permitUserRC: true,
    permitUserEnvironment: false,
    acceptEnv: [],
    setEnv: [],
    printMotd: true,
    printLastLog: true,
    subsystems: {},
  };
}

/** What a connection's client is: for patterns, tokens and log lines. */
export interface LoginConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}
