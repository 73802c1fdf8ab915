/**
 * A PAM transaction (pam_start ... pam_end) run by the native nssh-pam-helper in its own process, as
 * OpenSSH runs PAM apart from its network code (auth-pam.c). The helper's conversation is relayed
 * here: prompts are answered by a PamConversation (the password, or the client through
 * keyboard-interactive), text messages are handed to it. Frame format: native/nssh-pam-helper.c.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import { SshError } from "../wire/index.js";
import { nativeHelper } from "./loginExec.js";

/** PAM return codes (security/_pam_types.h) that the policy tells apart. */
export const PamCode = {
  SUCCESS: 0,
  PERM_DENIED: 6,
  AUTH_ERR: 7,
  USER_UNKNOWN: 10,
  MAXTRIES: 11,
  NEW_AUTHTOK_REQD: 12,
  ACCT_EXPIRED: 13,
  AUTHTOK_ERR: 20,
} as const;

export interface PamStatus {
  step: string;
  code: number;
  /** pam_strerror's text, for log lines. */
  text: string;
}

export interface PamConversation {
  /** Answer a prompt, or null to fail the conversation. */
  prompt(text: string, echo: boolean): Promise<string | null> | string | null;
  /** pam_info / pam_error text (motd, "You are required to change your password..."). */
  message?(text: string, kind: "info" | "error"): void;
}

/** sshd's PAM service, or nsshd's own when the README's steps installed /etc/pam.d/nsshd. */
export function defaultPamService(): string {
  return fs.existsSync("/etc/pam.d/nsshd") ? "nsshd" : "sshd";
}

export function pamAvailable(): boolean {
  return nativeHelper("nssh-pam-helper") !== null;
}

/** Frames bigger than this from the helper are a broken helper: PAM messages are at most 512 bytes. */
const MAX_FRAME = 1 << 20;

export class PamTransaction {
  conversation: PamConversation;
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly statuses: PamStatus[] = [];
  private statusWaiters: ((s: PamStatus | null) => void)[] = [];
  private envWaiter: ((env: Record<string, string> | null) => void) | null = null;
  private closed = false;
  /** Prompts are answered one at a time, in order. */
  private answering: Promise<void> = Promise.resolve();

  private constructor(helper: string, args: string[], conversation: PamConversation) {
    this.conversation = conversation;
    this.child = spawn(helper, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    this.child.stdin.on("error", () => {}); // the helper may end first; its exit is what we report
    this.child.stderr.resume();
    this.child.stdout.on("data", (d: Buffer) => this.onData(d));
    const end = (): void => {
      if (this.closed) return;
      this.closed = true;
      for (const w of this.statusWaiters) w(null);
      this.statusWaiters = [];
      this.envWaiter?.(null);
      this.envWaiter = null;
    };
    this.child.once("close", end);
    this.child.once("error", end);
  }

  /**
   * Start a transaction for `user`: mode "auth" runs pam_authenticate then pam_acct_mgmt; "account" only
   * pam_acct_mgmt (the user proved who they are another way).
   */
  static start(opts: {
    service?: string;
    user: string;
    remoteAddress: string;
    mode: "auth" | "account";
    allowEmptyPassword?: boolean;
    conversation: PamConversation;
  }): PamTransaction {
    const helper = nativeHelper("nssh-pam-helper");
    if (!helper)
      throw new SshError(
        "UNSUPPORTED",
        "PAM needs the native nssh-pam-helper (npm run prepare with libpam0g-dev)",
      );
    return new PamTransaction(
      helper,
      [
        opts.service ?? defaultPamService(),
        opts.user,
        opts.remoteAddress,
        opts.mode,
        opts.allowEmptyPassword ? "empty-ok" : "-",
      ],
      opts.conversation,
    );
  }

  get ended(): boolean {
    return this.closed;
  }

  /** The next status frame (one per PAM step), or null when the helper ended. */
  nextStatus(): Promise<PamStatus | null> {
    const s = this.statuses.shift();
    if (s) return Promise.resolve(s);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.statusWaiters.push(resolve));
  }

  /** pam_chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK) through the current conversation. */
  async changeExpiredPassword(): Promise<PamStatus | null> {
    this.send("C", Buffer.from("chauthtok"));
    return this.nextStatus();
  }

  /** pam_setcred + pam_open_session; the PAM environment (pam_env: /etc/environment...) on success. */
  async openSession(): Promise<{ status: PamStatus | null; env: Record<string, string> }> {
    const env = new Promise<Record<string, string> | null>((resolve) => (this.envWaiter = resolve));
    this.send("C", Buffer.from("session"));
    const status = await this.nextStatus();
    if (!status || status.code !== PamCode.SUCCESS) {
      this.envWaiter = null;
      return { status, env: {} };
    }
    return { status, env: (await env) ?? {} };
  }

  /** pam_close_session (if open), pam_end; the helper exits. */
  end(): void {
    if (this.closed) return;
    this.send("C", Buffer.from("end"));
    this.child.stdin.end();
  }

  private send(type: string, payload: Buffer): void {
    if (this.closed || this.child.stdin.destroyed) return;
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeUInt32BE(payload.length, 1);
    this.child.stdin.write(Buffer.concat([head, payload]));
  }

  private onData(d: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, d]) : d;
    while (this.buffered.length >= 5) {
      const len = this.buffered.readUInt32BE(1);
      if (len > MAX_FRAME) {
        this.child.kill("SIGKILL");
        return;
      }
      if (this.buffered.length < 5 + len) return;
      const type = String.fromCharCode(this.buffered[0]!);
      const body = this.buffered.subarray(5, 5 + len);
      this.buffered = this.buffered.subarray(5 + len);
      this.onFrame(type, Buffer.from(body));
    }
  }

  private onFrame(type: string, body: Buffer): void {
    switch (type) {
      case "P": {
        const echo = body[0] === 1;
        const text = body.subarray(1).toString("utf8");
        this.answering = this.answering.then(async () => {
          let answer: string | null = null;
          try {
            answer = await this.conversation.prompt(text, echo);
          } catch {
            answer = null; // a client that left or gave up: the PAM conversation fails
          }
          if (answer === null) this.send("N", Buffer.alloc(0));
          else {
            const bytes = Buffer.from(answer, "utf8");
            this.send("A", bytes);
            bytes.fill(0);
          }
        });
        return;
      }
      case "I":
        this.conversation.message?.(body.subarray(1).toString("utf8"), body[0] === 0x65 ? "error" : "info");
        return;
      case "S": {
        const text = body.subarray(4).toString("utf8");
        const colon = text.indexOf(":");
        const status = { step: text.slice(0, colon), code: body.readInt32BE(0), text: text.slice(colon + 1) };
        const w = this.statusWaiters.shift();
        if (w) w(status);
        else this.statuses.push(status);
        return;
      }
      case "E": {
        const env: Record<string, string> = {};
        for (const entry of body.toString("utf8").split("\0")) {
          const eq = entry.indexOf("=");
          if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
        }
        this.envWaiter?.(env);
        this.envWaiter = null;
        return;
      }
      default:
        this.child.kill("SIGKILL");
    }
  }
}
