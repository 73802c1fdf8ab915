/**
 * The client side of user authentication (RFC 4252), as OpenSSH's ssh runs it (sshconnect2.c): "none"
 * first to learn the methods, then the preferred methods in order, each until it has nothing more to try;
 * a partial success (AuthenticationMethods on the server) starts the preferred list over with the methods
 * that can continue. publickey queries each key before signing (RFC 4252 §7), picks rsa-sha2-512/256
 * from server-sig-algs (RFC 8308, RFC 8332) and binds the request to the host key when the server offers
 * publickey-hostbound-v00@openssh.com (OpenSSH PROTOCOL §2.5). password handles change requests
 * (RFC 4252 §8), keyboard-interactive any number of rounds (RFC 4256).
 */
import {
  signatureAlgorithm,
  signatureBlobAlgorithm,
  SIGNATURE_ALGORITHMS,
  type PublicKey,
} from "../keys/index.js";
import type { Transport, TransportLogger } from "../transport/index.js";
import { DisconnectReason, Msg, SshError } from "../wire/index.js";
import { runAuthExchange, type AuthMessage, type AuthMessageQueue } from "./messageQueue.js";
import { peerEndpoint } from "./peer.js";
import {
  describeKey,
  encodeInfoResponse,
  encodeKeyboardInteractiveRequest,
  encodeNoneRequest,
  encodePasswordRequest,
  encodePublicKeyRequest,
  EXT_HOSTBOUND,
  METHOD_HOSTBOUND,
  parseBanner,
  parseFailure,
  parseInfoRequest,
  parsePasswdChangeReq,
  parsePkOk,
  publicKeySignedData,
  SERVICE_CONNECTION,
  SERVICE_USERAUTH,
  type PublicKeyRequestFields,
} from "./signedData.js";

/** Something that can sign as a user key: a PrivateKey from a file, or a key held by an agent. */
export interface UserKeySigner {
  readonly publicKey: PublicKey;
  sign(data: Buffer, algorithm: string): Buffer | Promise<Buffer>;
  readonly comment?: string;
}

export type ClientAuthMethod = "none" | "publickey" | "password" | "keyboard-interactive";

export interface ClientAuthOptions {
  username: string;
  /** The order to try (PreferredAuthentications); "none" is always sent first, to learn the methods. */
  methods?: ClientAuthMethod[];
  /** Tried in order. */
  keys?: UserKeySigner[];
  /** A fixed password is tried once; a function is asked up to maxPasswordPrompts times (null: give up). */
  password?:
    string | ((context: { username: string; attempt: number }) => Promise<string | null> | string | null);
  /** SSH_MSG_USERAUTH_PASSWD_CHANGEREQ (RFC 4252 §8): return the new password or null to give up. */
  changePassword?: (prompt: string, language: string) => Promise<string | null> | string | null;
  /**
   * Answer one INFO_REQUEST (null: give up on the method). Rounds without prompts are shown to it too
   * (name and instructions) and answered with zero responses whatever it returns, as OpenSSH does.
   */
  keyboardInteractive?: (challenge: {
    name: string;
    instructions: string;
    prompts: { prompt: string; echo: boolean }[];
  }) => Promise<string[] | null> | string[] | null;
  onBanner?: (message: string, language: string) => void;
  /** NumberOfPasswordPrompts (3): password and keyboard-interactive attempts, each. */
  maxPasswordPrompts?: number;
  /** Signature algorithms we may use for user keys (PubkeyAcceptedAlgorithms); default: all but ssh-rsa. */
  publicKeyAlgorithms?: readonly string[];
  /** Use publickey-hostbound-v00@openssh.com when the server offers it (default true). */
  hostBound?: boolean;
  /** The host name, for "Authenticated to HOST ([addr]:port)"; default: the address. */
  host?: string;
  log?: TransportLogger;
  signal?: AbortSignal;
}

export interface ClientAuthResult {
  method: string;
  /** methods used, for partial success chains */
  methods: string[];
}

type Outcome =
  { kind: "success" } | { kind: "failure"; methods: string[]; partial: boolean } | { kind: "exhausted" };

const DEFAULT_METHODS: ClientAuthMethod[] = ["publickey", "keyboard-interactive", "password"];

/**
 * Requests the ssh-userauth service and runs the methods; resolves on USERAUTH_SUCCESS; rejects
 * SshError("AUTH_FAILED", "Permission denied (publickey,password).") after disconnecting when no method is
 * left. Set the connection layer's message handler right after it resolves (see AuthMessageQueue).
 */
export async function authenticateClient(
  transport: Transport,
  options: ClientAuthOptions,
): Promise<ClientAuthResult> {
  return runAuthExchange(
    transport,
    options.signal,
    () => transport.disconnect(DisconnectReason.AUTH_CANCELLED_BY_USER, "authentication cancelled"),
    (queue) => new ClientAuth(transport, queue, options).run(),
  );
}

class ClientAuth {
  private readonly log: TransportLogger;
  private readonly used: string[] = [];
  private keyIndex = 0;
  private passwordAttempts = 0;
  private kbdAttempts = 0;
  private readonly maxPrompts: number;

  constructor(
    private readonly transport: Transport,
    private readonly queue: AuthMessageQueue,
    private readonly opts: ClientAuthOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.maxPrompts = opts.maxPasswordPrompts ?? 3;
  }

  async run(): Promise<ClientAuthResult> {
    await this.queue.guard(this.transport.requestService(SERVICE_USERAUTH));
    this.transport.send(encodeNoneRequest(this.opts.username, SERVICE_CONNECTION));
    let outcome = await this.finalReply("none");
    if (outcome.kind === "success") return this.succeeded("none");
    if (outcome.kind !== "failure") throw new SshError("PROTOCOL", "no answer to the none request");
    let supported = outcome.methods;
    this.log("debug1", `Authentications that can continue: ${supported.join(",")}`);
    const preferred = this.opts.methods ?? DEFAULT_METHODS;
    let pointer = 0;
    let current: ClientAuthMethod | null = null;
    const disabled = new Set<string>();
    for (;;) {
      if (!current || disabled.has(current) || !supported.includes(current)) {
        current = null;
        while (pointer < preferred.length) {
          const name = preferred[pointer++]!;
          if (supported.includes(name) && !disabled.has(name) && this.enabled(name)) {
            current = name;
            this.log("debug1", `Next authentication method: ${name}`);
            break;
          }
        }
      }
      if (!current) {
        this.log("debug1", "No more authentication methods to try.");
        throw new SshError("AUTH_FAILED", `Permission denied (${supported.join(",")}).`, {
          disconnectReason: DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
        });
      }
      outcome = await this.attempt(current);
      if (outcome.kind === "success") return this.succeeded(current);
      if (outcome.kind === "exhausted") {
        this.log("debug2", `we did not send a packet, disable method ${current}`);
        disabled.add(current);
        continue;
      }
      if (outcome.partial) {
        this.used.push(current);
        this.log("verbose", `Authenticated using "${current}" with partial success.`);
      }
      this.log("debug1", `Authentications that can continue: ${outcome.methods.join(",")}`);
      if (outcome.methods.join(",") !== supported.join(",")) {
        this.log("debug3", `start over, passed a different list ${outcome.methods.join(",")}`);
        supported = outcome.methods;
        pointer = 0;
        current = null;
      }
    }
  }

  private succeeded(method: string): ClientAuthResult {
    this.used.push(method);
    const peer = peerEndpoint(this.transport);
    this.log(
      "verbose",
      `Authenticated to ${this.opts.host ?? peer.address} ([${peer.address}]:${peer.port}) using "${method}".`,
    );
    return { method, methods: [...this.used] };
  }

  private enabled(method: ClientAuthMethod): boolean {
    switch (method) {
      case "publickey":
        return (this.opts.keys?.length ?? 0) > 0;
      case "password":
        return this.opts.password !== undefined;
      case "keyboard-interactive":
        return this.opts.keyboardInteractive !== undefined;
      default:
        return false;
    }
  }

  private attempt(method: ClientAuthMethod): Promise<Outcome> {
    if (method === "publickey") return this.publicKey();
    if (method === "password") return this.password();
    return this.keyboardInteractive();
  }

  /** The next message that is not a banner (banners may come at any time, RFC 4252 §5.4). */
  private async reply(): Promise<AuthMessage> {
    for (;;) {
      const m = await this.queue.next();
      if (m.type !== Msg.USERAUTH_BANNER) return m;
      const { message, language } = parseBanner(m.payload);
      if (this.opts.onBanner) this.opts.onBanner(message, language);
      else this.log("info", message);
    }
  }

  /** A reply that must be SUCCESS or FAILURE (method-specific 60s are handled by the caller first). */
  private async finalReply(method: string, m?: AuthMessage): Promise<Outcome> {
    m ??= await this.reply();
    if (m.type === Msg.USERAUTH_SUCCESS) return { kind: "success" };
    if (m.type === Msg.USERAUTH_FAILURE) return { kind: "failure", ...parseFailure(m.payload) };
    throw new SshError("PROTOCOL", `unexpected message ${m.type} in reply to a ${method} request`);
  }

  // ---- publickey -----------------------------------------------------------------------------------

  private async publicKey(): Promise<Outcome> {
    const keys = this.opts.keys ?? [];
    while (this.keyIndex < keys.length) {
      const signer = keys[this.keyIndex++]!;
      const key = signer.publicKey;
      const ident = `${signer.comment ? signer.comment + " " : ""}${describeKey(key)}`;
      const algorithm = this.chooseAlgorithm(key);
      if (!algorithm) {
        this.log("debug1", `Skipping ${key.type} key ${ident}: no mutual signature algorithm`);
        continue;
      }
      const hostBound =
        this.opts.hostBound !== false &&
        this.transport.hostKey !== null &&
        this.transport.peerExtensions.get(EXT_HOSTBOUND)?.toString("latin1") === "0";
      const fields: PublicKeyRequestFields = {
        username: this.opts.username,
        service: SERVICE_CONNECTION,
        method: hostBound ? METHOD_HOSTBOUND : "publickey",
        algorithm,
        keyBlob: key.blob,
        ...(hostBound ? { hostKeyBlob: this.transport.hostKey!.blob } : {}),
      };
      this.log("debug1", `Offering public key: ${ident}`);
      this.transport.send(encodePublicKeyRequest(fields));
      const m = await this.reply();
      if (m.type !== Msg.USERAUTH_PK_OK) return this.finalReply("publickey", m);
      const ok = parsePkOk(m.payload);
      // OpenSSH compares key types, not signature algorithm names: some servers (ssh2) answer an
      // rsa-sha2-512 query with PK_OK naming "ssh-rsa".
      const okType = signatureAlgorithm(ok.algorithm)?.keyType;
      if (okType !== signatureAlgorithm(algorithm)?.keyType || !ok.keyBlob.equals(key.blob)) {
        throw new SshError("PROTOCOL", "server sent PK_OK for a key or algorithm we did not offer");
      }
      this.log("debug1", `Server accepts key: ${ident}`);
      let signature: Buffer;
      try {
        const data = publicKeySignedData(this.transport.sessionId!, fields);
        signature = await this.queue.guard(Promise.resolve().then(() => signer.sign(data, algorithm)));
      } catch (err) {
        if (this.queue.failed) throw this.queue.failed;
        this.log("debug1", `signing failed for ${ident}: ${(err as Error).message}`);
        continue;
      }
      if (signatureBlobAlgorithm(signature) !== algorithm) {
        this.log("debug1", `signer made a ${signatureBlobAlgorithm(signature)} signature, not ${algorithm}`);
        continue;
      }
      this.log("debug3", `sign_and_send_pubkey: using ${fields.method} with ${describeKey(key)}`);
      this.transport.send(encodePublicKeyRequest(fields, signature));
      return this.finalReply("publickey");
    }
    return { kind: "exhausted" };
  }

  /**
   * The signature algorithm for a key (OpenSSH sshconnect2.c key_sig_algorithm): the key's own type,
   * except RSA, which takes the first of our accepted RSA algorithms the server lists in server-sig-algs;
   * a server without ext-info gets ssh-rsa, if we accept it.
   */
  private chooseAlgorithm(key: PublicKey): string | null {
    const accepted =
      this.opts.publicKeyAlgorithms ?? SIGNATURE_ALGORITHMS.filter((a) => !a.weak).map((a) => a.name);
    const candidates = accepted.filter((a) => signatureAlgorithm(a)?.keyType === key.type);
    if (key.type !== "ssh-rsa") return candidates.includes(key.type) ? key.type : null;
    const serverAlgs = this.transport.peerExtensions.get("server-sig-algs");
    if (!serverAlgs) return candidates.includes("ssh-rsa") ? "ssh-rsa" : null;
    const listed = serverAlgs.toString("latin1").split(",");
    return candidates.find((a) => listed.includes(a)) ?? null;
  }

  // ---- password ------------------------------------------------------------------------------------

  private async password(): Promise<Outcome> {
    const pw = this.opts.password;
    const limit = typeof pw === "string" ? 1 : this.maxPrompts;
    if (pw === undefined || this.passwordAttempts >= limit) return { kind: "exhausted" };
    const attempt = ++this.passwordAttempts;
    if (attempt > 1) this.log("info", "Permission denied, please try again.");
    const password =
      typeof pw === "string" ? pw : await this.queue.guard(pw({ username: this.opts.username, attempt }));
    if (password === null) return { kind: "exhausted" };
    this.transport.send(encodePasswordRequest(this.opts.username, SERVICE_CONNECTION, password));
    for (;;) {
      const m = await this.reply();
      if (m.type !== Msg.USERAUTH_PASSWD_CHANGEREQ) return this.finalReply("password", m);
      const { prompt, language } = parsePasswdChangeReq(m.payload);
      this.log("debug2", "input_userauth_passwd_changereq");
      const change = this.opts.changePassword;
      const newPassword = change ? await this.queue.guard(change(prompt, language)) : null;
      if (newPassword === null) return { kind: "exhausted" };
      this.transport.send(
        encodePasswordRequest(this.opts.username, SERVICE_CONNECTION, password, newPassword),
      );
    }
  }

  // ---- keyboard-interactive ------------------------------------------------------------------------

  private async keyboardInteractive(): Promise<Outcome> {
    const ask = this.opts.keyboardInteractive;
    if (!ask || this.kbdAttempts >= this.maxPrompts) return { kind: "exhausted" };
    this.kbdAttempts++;
    this.transport.send(encodeKeyboardInteractiveRequest(this.opts.username, SERVICE_CONNECTION));
    for (;;) {
      const m = await this.reply();
      if (m.type !== Msg.USERAUTH_INFO_REQUEST) return this.finalReply("keyboard-interactive", m);
      const challenge = parseInfoRequest(m.payload);
      this.log("debug2", `input_userauth_info_req: num_prompts ${challenge.prompts.length}`);
      const answers = await this.queue.guard(ask(challenge));
      if (challenge.prompts.length === 0) {
        this.transport.send(encodeInfoResponse([]));
        continue;
      }
      // Giving up: the next method's request ends this conversation on the server (RFC 4256 §3.4).
      if (answers === null) return { kind: "exhausted" };
      if (answers.length !== challenge.prompts.length) {
        throw new SshError(
          "CONFIG",
          `keyboard-interactive: ${answers.length} answers to ${challenge.prompts.length} prompts`,
        );
      }
      this.transport.send(encodeInfoResponse(answers));
    }
  }
}
