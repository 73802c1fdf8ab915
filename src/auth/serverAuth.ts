/**
 * The server side of user authentication (RFC 4252), as OpenSSH's sshd runs it (auth2.c): one request at
 * a time, the user name and service fixed by the first request, the methods of the policy and of
 * AuthenticationMethods, MaxAuthTries, and the same answers in the same time for an invalid user as for
 * a valid one with wrong credentials (CVE-2018-15473). The method-specific work is in serverMethods.ts.
 *
 * Timing: every USERAUTH_FAILURE except the answer to "none" is sent no sooner than failureDelayMs after
 * the request began to be processed; when the work took longer, the floor doubles until it covers it
 * (OpenSSH ensure_minimum_time_since). "none" is exempt, as in sshd: its answer does not depend on any
 * credential, and every client sends it first, so delaying it would slow every login. PK_OK,
 * PASSWD_CHANGEREQ and INFO_REQUEST are not delayed either: they only go to a valid user whose policy
 * said so, and the message itself already says as much as its timing could.
 */
import { performance } from "node:perf_hooks";
import { signatureAlgorithm, SIGNATURE_ALGORITHMS, type PublicKey } from "../keys/index.js";
import type { Transport, TransportLogger } from "../transport/index.js";
import { DisconnectReason, Msg, SshError } from "../wire/index.js";
import { runAuthExchange, type AuthMessageQueue } from "./messageQueue.js";
import { peerEndpoint, type PeerEndpoint } from "./peer.js";
import { baseMethod, MethodChains, SERVER_METHOD_ORDER, type AuthPolicy } from "./policy.js";
import {
  runKeyboardInteractive,
  runPassword,
  runPublicKey,
  safely,
  type MethodContext,
  type MethodResult,
} from "./serverMethods.js";
import {
  encodeBanner,
  encodeFailure,
  parseRequestHead,
  SERVICE_CONNECTION,
  type RequestHead,
} from "./signedData.js";

export interface ServerAuthOptions {
  policy: AuthPolicy;
  /** Enabled methods (default: those the policy implements). */
  methods?: string[];
  /** AuthenticationMethods chains, e.g. [["publickey","password"]]: any one list must be completed in order. */
  authenticationMethods?: string[][];
  /** MaxAuthTries (6): at this many failures, disconnect "Too many authentication failures". */
  maxAuthTries?: number;
  /** Sent as USERAUTH_BANNER before the answer to the first request. */
  banner?: string;
  /**
   * Every USERAUTH_FAILURE but the answer to "none" is sent no sooner than this after the request began
   * to be processed (default 100 ms), whatever the cause, invalid users included.
   */
  failureDelayMs?: number;
  /**
   * For publickey-hostbound-v00@openssh.com: the server's host keys. The key of this connection is the one
   * whose type fits the negotiated host key algorithm (the transport signs with the first such key); the
   * transport's own hostKey is used instead when it has one. Without either, hostbound requests fail.
   */
  hostKeys?: readonly { publicKey: PublicKey }[];
  /** Signature algorithms accepted for user keys (PubkeyAcceptedAlgorithms); default: all but ssh-rsa. */
  publicKeyAlgorithms?: readonly string[];
  /** The client's address and port for log lines; default: read from the transport's socket. */
  remoteAddress?: string;
  remotePort?: number;
  log?: TransportLogger;
  signal?: AbortSignal;
  /**
   * Leave USERAUTH_SUCCESS to the caller: nsshd hands the connection to a process running as the user
   * (Transport.handOff), and that process sends it. The promise then resolves before anything is sent.
   */
  deferSuccess?: boolean;
}

export interface AuthenticatedUser {
  username: string;
  methods: string[];
  /** the key whose signature was verified — never merely the last key queried (x/crypto CVE-2024-45337) */
  publicKey?: PublicKey;
}

const DEFAULT_FAILURE_DELAY_MS = 100;
/** sshd gives up on a connection after this many requests, failures or not (auth2.c). */
const MAX_REQUESTS = 1024;

/**
 * Runs the server side once the client has asked for ssh-userauth (the transport answers SERVICE_REQUEST
 * itself; requests can only arrive after it). Resolves when USERAUTH_SUCCESS has been sent; rejects (after
 * disconnecting) on a protocol violation, MaxAuthTries, abort, or the connection's end. Set the
 * connection layer's message handler right after it resolves (see AuthMessageQueue).
 */
export async function authenticateServer(
  transport: Transport,
  options: ServerAuthOptions,
): Promise<AuthenticatedUser> {
  return runAuthExchange(
    transport,
    options.signal,
    () => transport.disconnect(DisconnectReason.BY_APPLICATION, "authentication aborted"),
    (queue) => new ServerAuth(transport, queue, options).run(),
  );
}

class ServerAuth {
  private readonly log: TransportLogger;
  private readonly peer: PeerEndpoint;
  private readonly chains: MethodChains;
  private readonly maxAuthTries: number;
  private readonly delayMs: number;
  private username: string | null = null;
  private service = "";
  private valid = false;
  private failures = 0;
  private requests = 0;
  private readonly done: string[] = [];
  private readonly usedKeys: PublicKey[] = [];
  private verifiedKey: PublicKey | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly queue: AuthMessageQueue,
    private readonly opts: ServerAuthOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.peer = peerEndpoint(transport, {
      ...(opts.remoteAddress !== undefined ? { address: opts.remoteAddress } : {}),
      ...(opts.remotePort !== undefined ? { port: opts.remotePort } : {}),
    });
    const p = opts.policy;
    const implemented = SERVER_METHOD_ORDER.filter((m) =>
      m === "publickey" ? !!p.checkPublicKey : m === "password" ? !!p.checkPassword : !!p.keyboardInteractive,
    );
    this.chains = new MethodChains(opts.authenticationMethods, opts.methods ?? implemented);
    this.maxAuthTries = opts.maxAuthTries ?? 6;
    this.delayMs = opts.failureDelayMs ?? DEFAULT_FAILURE_DELAY_MS;
  }

  async run(): Promise<AuthenticatedUser> {
    for (;;) {
      const m = await this.queue.next();
      if (m.type === Msg.USERAUTH_INFO_RESPONSE) {
        throw new SshError("PROTOCOL", "USERAUTH_INFO_RESPONSE without a pending USERAUTH_INFO_REQUEST");
      }
      if (m.type !== Msg.USERAUTH_REQUEST) {
        throw new SshError("PROTOCOL", `unexpected message ${m.type} during user authentication`);
      }
      const user = await this.request(parseRequestHead(m.payload));
      if (user) return user;
    }
  }

  /** One USERAUTH_REQUEST, answered; the user once authentication is complete. */
  private async request(head: RequestHead): Promise<AuthenticatedUser | null> {
    // The floor covers everything, the user lookup of the first request included.
    const startedAt = performance.now();
    if (++this.requests > MAX_REQUESTS) this.tooManyFailures();
    if (this.username === null) await this.firstRequest(head);
    else if (head.username !== this.username || head.service !== this.service) {
      throw new SshError(
        "PROTOCOL",
        `Change of username or service not allowed: (${this.username},${this.service}) -> (${head.username},${head.service})`,
      );
    }
    const ctx: MethodContext = {
      transport: this.transport,
      queue: this.queue,
      policy: this.opts.policy,
      username: head.username,
      service: head.service,
      valid: this.valid,
      log: this.log,
      from: this.from(),
      startedAt,
      usedKeys: this.usedKeys,
      acceptedAlgorithms:
        this.opts.publicKeyAlgorithms ?? SIGNATURE_ALGORITHMS.filter((a) => !a.weak).map((a) => a.name),
      hostKey: () => this.ourHostKey(),
    };
    const method = head.method;
    let result: MethodResult;
    if (!this.chains.allowed(method)) {
      this.log("debug2", `userauth: method ${method} not allowed`);
      result = { kind: "failure" };
    } else {
      switch (baseMethod(method)) {
        case "none": {
          head.reader.done("none request");
          const p = this.opts.policy;
          const yes = await safely(this.queue, this.log, () => p.allowNone?.({ username: head.username }));
          result = yes === true && this.valid ? { kind: "success" } : { kind: "failure" };
          break;
        }
        case "publickey":
          result = await runPublicKey(ctx, head);
          break;
        case "password":
          result = await runPassword(ctx, head);
          break;
        case "keyboard-interactive":
          result = await runKeyboardInteractive(ctx, head);
          break;
        default:
          result = { kind: "failure" };
      }
    }
    if (result.kind === "postponed" || result.kind === "interrupted") return null;
    const name = baseMethod(method);
    if (result.kind === "success") {
      if (result.key) {
        this.verifiedKey = result.key;
        this.usedKeys.push(result.key);
      }
      this.done.push(name);
      const detail = result.key ? `: ${result.keyDescription}` : "";
      if (!this.chains.complete(method)) {
        this.log("info", `Partial ${name} for ${head.username} ${this.from()}${detail}`);
        this.transport.send(encodeFailure(this.chains.canContinue(), true));
        return null;
      }
      this.log("info", `Accepted ${name} for ${head.username} ${this.from()}${detail}`);
      if (!this.opts.deferSuccess) this.transport.send(Buffer.from([Msg.USERAUTH_SUCCESS]));
      return {
        username: head.username,
        methods: [...this.done],
        ...(this.verifiedKey ? { publicKey: this.verifiedKey } : {}),
      };
    }
    // Failure: the same floor for every cause, and for invalid users (CVE-2018-15473).
    if (name !== "none") await ensureMinimumTimeSince(ctx.startedAt, this.delayMs);
    if (this.queue.failed) throw this.queue.failed;
    if (name !== "none" || this.requests > 1) this.failures++;
    const loud = !this.valid || this.failures >= this.maxAuthTries / 2 || name === "password";
    if (name !== "none" || !this.valid) {
      const who = this.valid ? head.username : `invalid user ${head.username}`;
      const detail = result.keyDescription ? `: ${result.keyDescription}` : "";
      this.log(loud ? "info" : "verbose", `Failed ${name} for ${who} ${this.from()}${detail}`);
    }
    if (this.failures >= this.maxAuthTries) this.tooManyFailures();
    this.transport.send(encodeFailure(this.chains.canContinue(), false));
    return null;
  }

  private async firstRequest(head: RequestHead): Promise<void> {
    this.username = head.username;
    this.service = head.service;
    const p = this.opts.policy;
    const exists = p.userExists
      ? (await safely(this.queue, this.log, () => p.userExists!(head.username))) === true
      : true;
    if (!exists)
      this.log("info", `Invalid user ${head.username} from ${this.peer.address} port ${this.peer.port}`);
    if (head.service !== SERVICE_CONNECTION) {
      // sshd treats it as an invalid user: every method fails, with the usual answers (auth2.c).
      this.log("info", `userauth: unsupported service ${head.service} for ${head.username}`);
    }
    this.valid = exists && head.service === SERVICE_CONNECTION;
    if (this.opts.banner) this.transport.send(encodeBanner(this.opts.banner));
  }

  private tooManyFailures(): never {
    const who = this.valid ? "" : "invalid user ";
    this.log("error", `maximum authentication attempts exceeded for ${who}${this.username} ${this.from()}`);
    throw new SshError("AUTH_FAILED", "Too many authentication failures", {
      disconnectReason: DisconnectReason.PROTOCOL_ERROR,
    });
  }

  private from(): string {
    return `from ${this.peer.address} port ${this.peer.port} ssh2`;
  }

  /** The host key of this connection (for publickey-hostbound-v00). */
  private ourHostKey(): PublicKey | null {
    if (this.transport.hostKey) return this.transport.hostKey;
    const alg = this.transport.negotiated ? signatureAlgorithm(this.transport.negotiated.hostKey) : undefined;
    if (!alg) return null;
    return this.opts.hostKeys?.find((k) => k.publicKey.type === alg.keyType)?.publicKey ?? null;
  }
}

/** Wait until `ms` after `start`, doubling `ms` while the work already took longer (OpenSSH auth2.c). */
async function ensureMinimumTimeSince(start: number, ms: number): Promise<void> {
  if (ms <= 0) return;
  const elapsed = performance.now() - start;
  let floor = ms;
  while (floor < elapsed) floor *= 2;
  await new Promise((resolve) => setTimeout(resolve, floor - elapsed));
}
