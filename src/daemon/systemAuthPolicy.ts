/**
 * The AuthPolicy for system users (sshd's auth2*.c with UsePAM): accounts from NSS, publickey from
 * authorized_keys files and AuthorizedKeysCommand, password and keyboard-interactive through PAM
 * (pamTransaction.ts), AllowUsers/DenyUsers/AllowGroups/DenyGroups, PermitRootLogin and
 * PermitEmptyPasswords. Every answer is async and works on plain data, so that the privileged monitor
 * of a split daemon can answer the same questions for a worker.
 *
 * One policy serves one connection: after authentication, grantFor() hands the login process what it
 * needs: the account, the PAM transaction (for pam_open_session) and the authorized_keys lines that
 * matched (their options: command=, environment=, no-pty...).
 */
import type { AuthPolicy, KeyboardInteractiveChallenge } from "../auth/index.js";
import type { PublicKey } from "../keys/index.js";
import { isSafeAccountName, lookupAccount, type SystemAccount } from "./accounts.js";
import type { LoginConnectionInfo, LoginLog, LoginSettings } from "./loginSettings.js";
import {
  PamCode,
  pamAvailable,
  PamTransaction,
  type PamConversation,
  type PamStatus,
} from "./pamTransaction.js";
import { notAllowedReason, rootLoginAllowed } from "./systemAuthAccess.js";
import { findKeyAuthorization, type KeyAuthorization } from "./systemAuthKeys.js";

export type { KeyAuthorization };

/** What the login process gets for an authenticated user. */
export interface LoginGrant {
  account: SystemAccount;
  /** The PAM transaction whose account check passed (null without UsePAM); its session is the login's. */
  pam: PamTransaction | null;
  /** The password has expired (PAM_NEW_AUTHTOK_REQD): the session only changes it (sshd's do_pwchange). */
  passwordChangeRequired: boolean;
  /** authorized_keys lines that allowed a key of this connection; the login uses the verified key's. */
  keys: KeyAuthorization[];
  /** The key whose signature was verified (from ServerConnection.user.publicKey), when publickey succeeded. */
  keyFor(key: PublicKey | undefined): KeyAuthorization | undefined;
  /**
   * Privilege separation: the PAM session was opened by the monitor (its environment and messages), and
   * the login records that need root are written there too; the login process runs as the user.
   */
  pamSession?: { env: Record<string, string>; messages: string } | null;
  loginRecorder?: LoginRecorder;
}

/** utmp, wtmp and lastlog, and the tty's owner, kept by a process that may (the monitor). */
export interface LoginRecorder {
  /** "Last login: ..." from lastlog, before this login replaces it ("" when none). */
  lastLogin(): Promise<string>;
  /** The session's terminal is `tty`, its program `pid`: record the login, give the tty to the user. */
  loggedIn(tty: string, pid: number): Promise<void>;
  loggedOut(tty: string, pid: number): Promise<void>;
}

interface UserState {
  account: SystemAccount | null;
  settings: LoginSettings;
  valid: boolean;
}

export interface SystemAuthPolicy extends AuthPolicy {
  grantFor(user: string): LoginGrant | undefined;
  /** Forget what only authentication needed (ConnectionPolicy.settle). */
  settle(): void;
  /** End every PAM transaction of the connection, sessions included: call it when the connection closes. */
  close(): void;
}

export function createSystemAuthPolicy(
  settingsForUser: (user: string) => Promise<LoginSettings>,
  conn: LoginConnectionInfo,
  log: LoginLog,
): SystemAuthPolicy {
  const states = new Map<string, Promise<UserState>>();
  /** The same states once known, for grantFor (called synchronously after authentication). */
  const known = new Map<string, UserState>();
  const keyAuths = new Map<string, KeyAuthorization>();
  const accountChecks = new Map<string, Promise<PamTransaction | null | false>>();
  let granted: PamTransaction | null = null;
  /** pam_acct_mgmt said PAM_NEW_AUTHTOK_REQD for the login's transaction: the session must change it first. */
  let changeRequired = false;
  let keyChangeRequired = false;
  const from = `${conn.remoteAddress}`;

  const state = (user: string): Promise<UserState> => {
    let s = states.get(user);
    if (!s) {
      s = (async (): Promise<UserState> => {
        const settings = await settingsForUser(user);
        const account = await lookupAccount(user);
        if (!account) return { account: null, settings, valid: false };
        const reason = await notAllowedReason(account, settings, conn.remoteAddress);
        if (reason) log.info(reason);
        const result = { account, settings, valid: reason === null };
        known.set(user, result);
        return result;
      })();
      states.set(user, s);
    }
    return s;
  };

  const usablePam = (settings: LoginSettings): boolean => {
    if (!settings.usePAM) return false;
    if (pamAvailable()) return true;
    log.error("PAM: the nssh-pam-helper is not built (scripts/build-native.mjs); password methods fail");
    return false;
  };

  const keep = (t: PamTransaction): void => {
    if (granted && granted !== t) granted.end();
    granted = t;
  };

  const illegal = (st: UserState, user: string): string => (st.valid ? user : `illegal user ${user}`);

  /** pam_acct_mgmt for a user who authenticated without PAM (publickey), once per connection. */
  const pamAccount = (user: string, st: UserState): Promise<PamTransaction | null | false> => {
    let check = accountChecks.get(user);
    if (!check) {
      check = (async () => {
        // Without the helper there is no PAM to ask: publickey works as with UsePAM no.
        if (!st.settings.usePAM || !pamAvailable()) return null;
        const t = PamTransaction.start({
          ...(st.settings.pamService ? { service: st.settings.pamService } : {}),
          user,
          remoteAddress: conn.remoteAddress,
          mode: "account",
          conversation: { prompt: () => null },
        });
        const s = await t.nextStatus();
        if (!s || (s.code !== PamCode.SUCCESS && s.code !== PamCode.NEW_AUTHTOK_REQD)) {
          log.error(`Access denied for user ${user} by PAM account configuration [preauth]`);
          t.end();
          return false;
        }
        keyChangeRequired = s.code === PamCode.NEW_AUTHTOK_REQD;
        return t;
      })();
      accountChecks.set(user, check);
    }
    return check;
  };

  /** Run pam_authenticate + pam_acct_mgmt; the transaction and its last status. */
  const pamAuthenticate = async (
    user: string,
    st: UserState,
    conversation: PamConversation,
  ): Promise<{ t: PamTransaction; auth: PamStatus | null; account: PamStatus | null }> => {
    const t = PamTransaction.start({
      ...(st.settings.pamService ? { service: st.settings.pamService } : {}),
      user,
      remoteAddress: conn.remoteAddress,
      mode: "auth",
      allowEmptyPassword: st.settings.permitEmptyPasswords,
      conversation,
    });
    const auth = await t.nextStatus();
    if (!auth || auth.code !== PamCode.SUCCESS) {
      log.error(`PAM: ${auth?.text ?? "helper failed"} for ${illegal(st, user)} from ${from}`);
      t.end();
      return { t, auth, account: null };
    }
    const account = await t.nextStatus();
    if (!account || (account.code !== PamCode.SUCCESS && account.code !== PamCode.NEW_AUTHTOK_REQD)) {
      log.error(`Access denied for user ${user} by PAM account configuration [preauth]`);
      t.end();
    }
    return { t, auth, account };
  };

  const refuseRoot = (st: UserState, method: "password" | "keyboard-interactive"): boolean => {
    if (st.account?.uid !== 0 || rootLoginAllowed(st.settings, method)) return false;
    log.info(`ROOT LOGIN REFUSED FROM ${conn.remoteAddress} port ${conn.remotePort}`);
    return true;
  };

  const passwordCheck = async (
    username: string,
    password: string,
  ): Promise<boolean | { changeRequired: string }> => {
    const st = await state(username);
    if (!st.settings.passwordAuthentication || !usablePam(st.settings)) return false;
    if (!isSafeAccountName(username)) return false;
    if (password === "" && !st.settings.permitEmptyPasswords) return false;
    const r = await pamAuthenticate(username, st, {
      // sshpam_passwd_conv: every hidden prompt gets the password; a visible one fails the conversation.
      prompt: (_text, echo) => (echo ? null : password),
    });
    if (!r.auth || r.auth.code !== PamCode.SUCCESS || !r.account) return false;
    if (!st.valid) {
      r.t.end();
      return false;
    }
    if (r.account.code !== PamCode.SUCCESS && r.account.code !== PamCode.NEW_AUTHTOK_REQD) return false;
    if (refuseRoot(st, "password")) {
      r.t.end();
      return false;
    }
    // As sshd (auth-pam.c, session.c do_pwchange): the login succeeds, and its session is a forced
    // password change (on a tty) or a refusal (without one).
    if (r.account.code === PamCode.NEW_AUTHTOK_REQD) {
      log.info(`password for user ${username} has expired: change required`);
      changeRequired = true;
    } else changeRequired = false;
    keep(r.t);
    return true;
  };

  return {
    async userExists(username) {
      return (await state(username)).valid;
    },

    async checkPublicKey({ username, key }) {
      const st = await state(username);
      if (!st.valid || !st.account || !st.settings.pubkeyAuthentication) return false;
      if (st.account.uid === 0 && st.settings.permitRootLogin === "no") {
        log.info(`ROOT LOGIN REFUSED FROM ${conn.remoteAddress} port ${conn.remotePort}`);
        return false;
      }
      const found = await findKeyAuthorization(st.account, key, st.settings, conn.remoteAddress, log);
      if (!found) return false;
      if (
        st.account.uid === 0 &&
        !rootLoginAllowed(st.settings, "publickey", found.entry.options.command !== undefined)
      ) {
        log.info(`ROOT LOGIN REFUSED FROM ${conn.remoteAddress} port ${conn.remotePort}`);
        return false;
      }
      const pam = await pamAccount(username, st);
      if (pam === false) return false;
      if (pam && !granted) {
        granted = pam;
        changeRequired = keyChangeRequired;
      }
      keyAuths.set(key.blob.toString("hex"), found);
      return true;
    },

    checkPassword({ username, password }) {
      return passwordCheck(username, password);
    },

    async keyboardInteractive({ username }, ask) {
      const st = await state(username);
      if (!st.settings.kbdInteractiveAuthentication || !usablePam(st.settings)) return false;
      if (!isSafeAccountName(username)) return false;
      // sshpam_query: PAM's text messages go in front of the next prompt.
      let pendingText = "";
      const conversation: PamConversation = {
        prompt: async (text, echo) => {
          const challenge: KeyboardInteractiveChallenge = {
            name: "",
            instructions: "",
            prompts: [{ prompt: pendingText + text, echo }],
          };
          pendingText = "";
          const answers = await ask(challenge);
          return answers[0] ?? null;
        },
        message: (text) => {
          pendingText += `${text}\n`;
        },
      };
      const r = await pamAuthenticate(username, st, conversation);
      if (!r.auth || r.auth.code !== PamCode.SUCCESS || !r.account) return false;
      if (!st.valid) {
        r.t.end();
        return false;
      }
      if (r.account.code === PamCode.NEW_AUTHTOK_REQD) {
        // As sshd's PAM thread: the expired password is changed in the same conversation.
        const s = await r.t.changeExpiredPassword();
        if (!s || s.code !== PamCode.SUCCESS) {
          log.error(`PAM: password change for ${username} failed: ${s?.text ?? "helper failed"}`);
          r.t.end();
          return false;
        }
      } else if (r.account.code !== PamCode.SUCCESS) return false;
      if (refuseRoot(st, "keyboard-interactive")) {
        r.t.end();
        return false;
      }
      changeRequired = false;
      keep(r.t);
      return true;
    },

    async allowNone({ username }) {
      const st = await state(username);
      if (!st.settings.permitEmptyPasswords || !st.settings.passwordAuthentication) return false;
      return (await passwordCheck(username, "")) === true;
    },

    grantFor(user) {
      const s = known.get(user);
      if (!s || !s.valid || !s.account) return undefined;
      // The grant's own copy: settle() empties the policy's, not what was granted.
      const auths = new Map(keyAuths);
      return {
        account: s.account,
        pam: granted,
        passwordChangeRequired: changeRequired,
        keys: [...auths.values()],
        keyFor: (key) => (key ? auths.get(key.blob.toString("hex")) : undefined),
      };
    },

    settle() {
      states.clear();
      known.clear();
      keyAuths.clear();
    },

    close() {
      // The connection is over: every transaction ends (an open PAM session with it, as sshd closes it).
      granted?.end();
      for (const check of accountChecks.values()) {
        void check.then((t) => {
          if (t) t.end();
        });
      }
    },
  };
}
