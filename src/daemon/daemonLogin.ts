/**
 * The login backend of nsshd: system accounts (systemAuthPolicy.ts) and the login process (login.ts).
 * Not started as root, only the invoking user can log in, as with sshd: every other name is an invalid
 * user (it gets the same answers, in the same time, as a wrong credential).
 */
import os from "node:os";
import type { ServerConnectionInfo } from "../server/index.js";
import type { ConnectionPolicy, LoginBackend } from "./daemonConnection.js";
import type { DaemonLog } from "./log.js";
import { startLoginSession } from "./login.js";
import type { LoginSettings } from "./loginSettings.js";
import { createSystemAuthPolicy, type LoginGrant, type SystemAuthPolicy } from "./systemAuthPolicy.js";

/** Restrict a policy to one user name: others are invalid users. */
function onlyUser(policy: SystemAuthPolicy, name: string, log: DaemonLog): ConnectionPolicy<LoginGrant> {
  const mine = (user: string): boolean => user === name;
  const restricted: ConnectionPolicy<LoginGrant> = {
    userExists: async (user) => {
      if (!mine(user)) {
        log.verbose(`User ${user} not allowed: nsshd runs as ${name}, not root`);
        return false;
      }
      return policy.userExists ? policy.userExists(user) : true;
    },
    grantFor: (user) => (mine(user) ? policy.grantFor(user) : undefined),
    settle: () => policy.settle(),
    close: () => policy.close(),
  };
  if (policy.allowNone) restricted.allowNone = async (c) => mine(c.username) && (await policy.allowNone!(c));
  if (policy.checkPublicKey)
    restricted.checkPublicKey = async (c) => mine(c.username) && (await policy.checkPublicKey!(c));
  if (policy.checkPassword)
    restricted.checkPassword = async (c) => (mine(c.username) ? policy.checkPassword!(c) : false);
  if (policy.changePassword)
    restricted.changePassword = async (c) => mine(c.username) && (await policy.changePassword!(c));
  if (policy.keyboardInteractive)
    restricted.keyboardInteractive = async (c, ask) =>
      mine(c.username) && (await policy.keyboardInteractive!(c, ask));
  return restricted;
}

/** The system-account backend; `runningAs` is set when nsshd does not run as root. */
export function systemLoginBackend(runningAs?: string): LoginBackend<LoginGrant> {
  return {
    createPolicy(
      settingsForUser: (user: string) => Promise<LoginSettings>,
      conn: ServerConnectionInfo,
      log: DaemonLog,
    ): ConnectionPolicy<LoginGrant> {
      const policy = createSystemAuthPolicy(settingsForUser, conn, log);
      return runningAs !== undefined ? onlyUser(policy, runningAs, log) : policy;
    },
    startSession(session, connection, grant, settings, log): void {
      startLoginSession(session, connection, grant, settings, log);
    },
  };
}

/** The backend for this process: restricted to the invoking user unless running as root. */
export function defaultLoginBackend(): LoginBackend<LoginGrant> {
  return process.getuid?.() === 0 ? systemLoginBackend() : systemLoginBackend(os.userInfo().username);
}
