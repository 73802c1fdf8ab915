/**
 * The server's decisions (AuthPolicy: one async interface, so the daemon's pre-auth workers can ask the
 * privileged monitor), the AuthenticationMethods chain rules of sshd_config(5), and a constant-time
 * string comparison for policies that check passwords themselves.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { PublicKey } from "../keys/index.js";
import type { PublicKeyRequestFields } from "./signedData.js";
import { SshError } from "../wire/index.js";

export interface KeyboardInteractiveChallenge {
  name?: string;
  instructions?: string;
  prompts: { prompt: string; echo: boolean }[];
}

export interface AuthPolicy {
  /** publickey: is this key allowed for this user (authorized_keys)? Called both for the query and before verifying a signature. */
  checkPublicKey?(ctx: { username: string; key: PublicKey; service: string }): Promise<boolean> | boolean;
  /**
   * publickey: the signature over `request` (RFC 4252 §7) verified with `key`. Optional; false refuses the
   * login anyway. nsshd's monitor answers it by verifying the signature itself, with the session id it
   * signed, so a compromised pre-auth worker cannot claim a login it did not see.
   */
  publicKeyVerified?(ctx: {
    username: string;
    key: PublicKey;
    request: PublicKeyRequestFields;
    signature: Buffer;
  }): Promise<boolean> | boolean;
  /**
   * publicKeyVerified verifies the signature itself (nsshd's pre-auth worker asks its monitor, which
   * does): the server then leaves the signature to it rather than verifying it a second time.
   */
  verifiesSignatures?: boolean;
  /**
   * password: is this the user's password? Compare in constant time (see constantTimeEqual): the time an
   * answer takes must not depend on how much of the password was right. Return `{ changeRequired }` to
   * send SSH_MSG_USERAUTH_PASSWD_CHANGEREQ with that prompt (RFC 4252 §8).
   */
  checkPassword?(ctx: {
    username: string;
    password: string;
  }): Promise<boolean | { changeRequired: string }> | boolean | { changeRequired: string };
  /** Set the new password after a change request; the old one has already been checked. */
  changePassword?(ctx: {
    username: string;
    oldPassword: string;
    newPassword: string;
  }): Promise<boolean> | boolean;
  /** keyboard-interactive: run a conversation; `ask` sends one INFO_REQUEST and resolves with the answers. */
  keyboardInteractive?(
    ctx: { username: string; submethods: string },
    ask: (challenge: KeyboardInteractiveChallenge) => Promise<string[]>,
  ): Promise<boolean> | boolean;
  /** "none": accept without credentials (e.g. an empty-password account with PermitEmptyPasswords). Default false. */
  allowNone?(ctx: { username: string }): Promise<boolean> | boolean;
  /**
   * Is the user valid at all? An invalid user gets the same answers in the same time as a valid one with
   * wrong credentials (CVE-2018-15473): the server still asks the policy the same questions, with the same
   * delays, and then fails whatever the answers were.
   */
  userExists?(username: string): Promise<boolean> | boolean;
}

/**
 * Compare two strings (passwords, tokens) in time that does not depend on where they differ, nor on
 * their lengths: both are hashed with SHA-256 first, and the digests compared with timingSafeEqual.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}

/** The methods a server offers, in the order sshd lists them in USERAUTH_FAILURE. */
export const SERVER_METHOD_ORDER = ["publickey", "password", "keyboard-interactive"] as const;

/** The method name that counts for chains and the method list: publickey-hostbound-v00 is publickey. */
export function baseMethod(method: string): string {
  return method === "publickey-hostbound-v00@openssh.com" ? "publickey" : method;
}

/**
 * AuthenticationMethods (sshd_config(5)): a set of lists, any one of which must be completed in order.
 * After a method succeeds, every list that starts with it loses its head; a list left empty means the
 * user is authenticated; otherwise the success is partial. Lists that start with another method stay as
 * they are (OpenSSH auth2.c auth2_update_methods_lists). Without lists, one success is enough.
 */
export class MethodChains {
  private lists: string[][] | null;

  constructor(
    chains: readonly (readonly string[])[] | undefined,
    private readonly enabled: readonly string[],
  ) {
    this.lists = chains && chains.length > 0 ? chains.map((c) => c.map(stripSubmethod)) : null;
    for (const m of this.lists?.flat() ?? []) {
      // sshd refuses to start with such a list: it could never be completed.
      if (m !== "none" && !enabled.includes(m)) {
        throw new SshError("CONFIG", `AuthenticationMethods names ${m}, which is not enabled`);
      }
    }
    if (this.lists?.some((l) => l.length === 0)) {
      throw new SshError("CONFIG", "AuthenticationMethods holds an empty list");
    }
  }

  /** May this method be tried now? */
  allowed(method: string): boolean {
    const m = baseMethod(method);
    if (m !== "none" && !this.enabled.includes(m)) return false;
    if (!this.lists) return true;
    return this.lists.some((l) => l[0] === m);
  }

  /** Record a success; true when authentication is complete, false for a partial success. */
  complete(method: string): boolean {
    const m = baseMethod(method);
    if (!this.lists) return true;
    let done = false;
    this.lists = this.lists.map((l) => {
      if (l[0] !== m) return l;
      const rest = l.slice(1);
      if (rest.length === 0) done = true;
      return rest;
    });
    return done;
  }

  /** The "authentications that can continue" for USERAUTH_FAILURE ("none" is never listed). */
  canContinue(): string[] {
    return SERVER_METHOD_ORDER.filter((m) => this.allowed(m));
  }
}

function stripSubmethod(method: string): string {
  // "keyboard-interactive:pam" names a device; we have one kind of each method.
  const colon = method.indexOf(":");
  return colon < 0 ? method : method.slice(0, colon);
}
