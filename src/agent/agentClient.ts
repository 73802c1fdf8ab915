/**
 * AgentClient: talks to a running authentication agent (OpenSSH's ssh-agent, or any agent speaking
 * draft-miller-ssh-agent) over its Unix socket, $SSH_AUTH_SOCK by default, to list its keys, have it sign,
 * and manage its keys as ssh-add does.
 *
 * One connection per client, opened on the first request. The protocol is strictly request/response in
 * order (draft-miller-ssh-agent §3), so requests are queued and only one is on the wire at a time. A
 * request that times out or is aborted while on the wire leaves the connection out of step, so that
 * connection is dropped and the next request opens a new one; so does any malformed answer. While no
 * request is in flight the socket does not keep the process alive.
 */
import net from "node:net";
import { SshError } from "../wire/index.js";
import { PublicKey, signatureAlgorithm, signatureBlobAlgorithm, type PrivateKey } from "../keys/index.js";
import {
  AgentFrameReader,
  AgentMsg,
  decodeIdentitiesAnswer,
  decodeSignResponse,
  encodeAddIdentity,
  encodeLock,
  encodeRemoveAllIdentities,
  encodeRemoveIdentity,
  encodeRequestIdentities,
  encodeSignRequest,
  isAgentFailure,
  signFlagsFor,
  type AgentFrame,
  type AgentKeyConstraints,
} from "./agentProtocol.js";

/** A key held by the agent. Satisfies the auth layer's signer shape: { publicKey; sign(data, algorithm) }. */
export interface AgentKey {
  readonly publicKey: PublicKey;
  readonly comment: string;
  sign(data: Buffer, algorithm: string): Promise<Buffer>;
}

export interface AgentClientOptions {
  /**
   * Milliseconds a request may take, from the call (queueing included) to the answer; 0 for no limit.
   * Default 60 000. A key added with `confirm` waits for a person, so keep it generous.
   */
  timeout?: number;
}

export interface AgentRequestOptions {
  /** Aborting rejects the request with SshError("ABORTED") (and drops the connection if it was sent). */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT = 60_000;

/** The message OpenSSH's ssh-add prints when SSH_AUTH_SOCK is not set (SSH_ERR_AGENT_NOT_PRESENT). */
const NO_AGENT = "Could not open a connection to your authentication agent.";

function abortError(signal: AbortSignal, what: string): SshError {
  return new SshError("ABORTED", `agent request (${what}) aborted`, { cause: signal.reason });
}

/** One open socket to the agent: writes a request, hands back the one message that answers it. */
class AgentConnection {
  private readonly reader = new AgentFrameReader();
  private waiting: { resolve(f: AgentFrame): void; reject(e: Error): void } | null = null;
  private failure: SshError | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) =>
      this.fail(new SshError("AGENT", `agent connection failed: ${err.message}`, { cause: err })),
    );
    socket.on("close", () => this.fail(new SshError("AGENT", "the agent closed the connection")));
    socket.unref();
  }

  get dead(): boolean {
    return this.failure !== null;
  }

  static open(path: string): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.destroy();
        // As ssh-add words it (ssh_get_authentication_socket failing with SSH_ERR_SYSTEM_ERROR).
        reject(new SshError("AGENT", `Error connecting to agent ${path}: ${err.message}`, { cause: err }));
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        resolve(new AgentConnection(socket));
      });
    });
  }

  /** Send one request and wait for its answer. Rejects with SshError("AGENT") if the connection breaks. */
  exchange(frame: Buffer): Promise<AgentFrame> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting)
      return Promise.reject(new SshError("AGENT", "agent request while another is in flight"));
    return new Promise<AgentFrame>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.ref();
      this.socket.write(frame);
    });
  }

  /** Drop the connection; the request in flight, if any, is rejected with `err`. */
  fail(err: SshError): void {
    if (this.failure) return;
    this.failure = err;
    this.socket.destroy();
    const w = this.waiting;
    this.waiting = null;
    w?.reject(err);
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    let frames: AgentFrame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(
        err instanceof SshError ? err : new SshError("AGENT", `bad data from the agent: ${String(err)}`),
      );
      return;
    }
    for (const frame of frames) {
      const w = this.waiting;
      if (!w) {
        this.fail(new SshError("AGENT", `the agent sent a message (type ${frame.type}) nobody asked for`));
        return;
      }
      this.waiting = null;
      if (this.reader.pending === 0) this.socket.unref();
      w.resolve(frame);
    }
  }
}

/** A key the agent listed; signing goes back through the client that listed it. */
class AgentIdentity implements AgentKey {
  constructor(
    private readonly client: AgentClient,
    readonly publicKey: PublicKey,
    readonly comment: string,
  ) {}

  sign(data: Buffer, algorithm: string, options?: AgentRequestOptions): Promise<Buffer> {
    return this.client.sign(this.publicKey, data, algorithm, options);
  }
}

export class AgentClient {
  readonly socketPath: string;
  private readonly timeout: number;
  private connection: AgentConnection | null = null;
  /** The end of the request queue; it never rejects (each request's own promise carries its error). */
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * `socketPath` defaults to $SSH_AUTH_SOCK. Nothing is connected until the first request.
   * Throws SshError("AGENT", "Could not open a connection to your authentication agent.") without one.
   */
  constructor(
    socketPath: string | undefined = process.env["SSH_AUTH_SOCK"],
    options: AgentClientOptions = {},
  ) {
    if (!socketPath) throw new SshError("AGENT", NO_AGENT);
    this.socketPath = socketPath;
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    if (!(timeout >= 0) || !Number.isFinite(timeout)) {
      throw new SshError("CONFIG", `agent timeout must be a number of milliseconds from 0, not ${timeout}`);
    }
    this.timeout = timeout;
  }

  /**
   * SSH_AGENTC_REQUEST_IDENTITIES (§4.4): the agent's keys with their comments, in the agent's order.
   * Keys of types we do not support (sk-*, certificates for now, ssh-dss) are skipped; a blob of a known
   * type that does not parse means a broken agent and fails the call, as in OpenSSH's ssh_fetch_identitylist.
   */
  async listKeys(options?: AgentRequestOptions): Promise<AgentKey[]> {
    const reply = await this.request(encodeRequestIdentities(), "list keys", options);
    const entries = decodeIdentitiesAnswer(this.expect(reply, AgentMsg.IDENTITIES_ANSWER, "list keys"));
    const keys: AgentKey[] = [];
    for (const { keyBlob, comment } of entries) {
      let publicKey: PublicKey;
      try {
        publicKey = PublicKey.fromBlob(keyBlob);
      } catch (err) {
        if (err instanceof SshError && err.code === "UNSUPPORTED") continue; // a key type we cannot use
        const why = err instanceof Error ? err.message : String(err);
        throw new SshError("AGENT", `the agent listed a key that does not parse (${comment}): ${why}`, {
          cause: err,
        });
      }
      keys.push(new AgentIdentity(this, publicKey, comment));
    }
    return keys;
  }

  /**
   * SSH_AGENTC_SIGN_REQUEST (§4.5), with SSH_AGENT_RSA_SHA2_256/512 (§4.5.1) for rsa-sha2-256/512.
   * Returns the SSH signature blob (string algorithm, string signature), after checking that it is of
   * `algorithm` and verifies with `key`: a broken agent does not get to send a bad signature onwards.
   * A refusal (the agent lacks the key, is locked, or confirmation was denied) is SshError("AGENT").
   */
  async sign(
    key: PublicKey,
    data: Buffer,
    algorithm: string,
    options?: AgentRequestOptions,
  ): Promise<Buffer> {
    const alg = signatureAlgorithm(algorithm);
    if (!alg || alg.keyType !== key.type) {
      throw new SshError("UNSUPPORTED", `a ${key.type} key cannot make ${algorithm} signatures`);
    }
    const what = `sign with ${key.type} ${key.fingerprintSha256()}`;
    const reply = await this.request(
      encodeSignRequest(key.blob, data, signFlagsFor(algorithm)),
      what,
      options,
    );
    const signature = decodeSignResponse(this.expect(reply, AgentMsg.SIGN_RESPONSE, what));
    const got = signatureBlobAlgorithm(signature);
    if (got !== algorithm) {
      throw new SshError(
        "AGENT",
        `the agent made a ${got ?? "malformed"} signature when ${algorithm} was asked (${what})`,
      );
    }
    if (!key.verify(data, signature, [algorithm])) {
      throw new SshError("AGENT", `the agent's ${algorithm} signature does not verify (${what})`);
    }
    return signature;
  }

  /**
   * SSH2_AGENTC_ADD_IDENTITY, or SSH2_AGENTC_ADD_ID_CONSTRAINED with a lifetime or confirmation (§4.2,
   * §4.2.6), as ssh-add [-t life] [-c] does. `comment` defaults to the key's own.
   */
  async addKey(
    privateKey: PrivateKey,
    comment: string = privateKey.comment,
    constraints: AgentKeyConstraints = {},
    options?: AgentRequestOptions,
  ): Promise<void> {
    const frame = encodeAddIdentity(privateKey, comment, constraints);
    const what = `add ${privateKey.type} ${privateKey.publicKey.fingerprintSha256()}`;
    this.expectSuccess(await this.request(frame, what, options, true), what);
  }

  /** SSH2_AGENTC_REMOVE_IDENTITY (§4.3), as ssh-add -d. */
  async removeKey(key: PublicKey, options?: AgentRequestOptions): Promise<void> {
    const what = `remove ${key.type} ${key.fingerprintSha256()}`;
    this.expectSuccess(await this.request(encodeRemoveIdentity(key.blob), what, options), what);
  }

  /** SSH2_AGENTC_REMOVE_ALL_IDENTITIES (§4.3), as ssh-add -D. */
  async removeAll(options?: AgentRequestOptions): Promise<void> {
    const what = "remove all keys";
    this.expectSuccess(await this.request(encodeRemoveAllIdentities(), what, options), what);
  }

  /** SSH_AGENTC_LOCK (§4.6), as ssh-add -x: the agent refuses to sign or list until unlocked. */
  async lock(passphrase: string | Buffer, options?: AgentRequestOptions): Promise<void> {
    this.expectSuccess(await this.request(encodeLock(true, passphrase), "lock", options, true), "lock");
  }

  /** SSH_AGENTC_UNLOCK (§4.6), as ssh-add -X; a wrong passphrase is SshError("AGENT"). */
  async unlock(passphrase: string | Buffer, options?: AgentRequestOptions): Promise<void> {
    this.expectSuccess(await this.request(encodeLock(false, passphrase), "unlock", options, true), "unlock");
  }

  /** Close the connection; requests still queued or in flight fail with SshError("AGENT"). */
  close(): void {
    this.closed = true;
    this.connection?.fail(new SshError("AGENT", "the agent client was closed"));
    this.connection = null;
  }

  /** The contents of `reply` if it is of `type`; a refusal or any other message is SshError("AGENT"). */
  private expect(reply: AgentFrame, type: number, what: string): Buffer {
    if (reply.type === type) return reply.payload;
    if (isAgentFailure(reply.type)) throw new SshError("AGENT", `the agent refused: ${what}`);
    throw new SshError("AGENT", `unexpected agent message ${reply.type} in answer to: ${what}`);
  }

  /** §4.1: SSH_AGENT_SUCCESS with no contents. */
  private expectSuccess(reply: AgentFrame, what: string): void {
    if (this.expect(reply, AgentMsg.SUCCESS, what).length !== 0) {
      throw new SshError("AGENT", `malformed SSH_AGENT_SUCCESS from the agent (${what}): trailing bytes`);
    }
  }

  /**
   * Queue one request and resolve with the agent's answer. The timeout and the signal apply from the call;
   * if either fires while the request is on the wire the connection is dropped (its answer would arrive
   * out of step). `secret` frames (private keys, passphrases) are zeroed once done with.
   */
  private request(
    frame: Buffer,
    what: string,
    options?: AgentRequestOptions,
    secret = false,
  ): Promise<AgentFrame> {
    const signal = options?.signal;
    let early: SshError | null = null;
    if (this.closed) early = new SshError("AGENT", `the agent client is closed (${what})`);
    else if (signal?.aborted) early = abortError(signal, what);
    if (early) {
      if (secret) frame.fill(0);
      return Promise.reject(early);
    }
    return new Promise<AgentFrame>((resolve, reject) => {
      let settled = false;
      let onWire: AgentConnection | null = null;
      let timer: NodeJS.Timeout | undefined;
      const settle = (err: Error | null, reply?: AgentFrame): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(reply!);
      };
      const giveUp = (err: SshError): void => {
        settle(err);
        onWire?.fail(new SshError("AGENT", `agent connection dropped: ${err.message}`, { cause: err }));
      };
      const onAbort = (): void => giveUp(abortError(signal!, what));
      signal?.addEventListener("abort", onAbort, { once: true });
      if (this.timeout > 0) {
        timer = setTimeout(
          () => giveUp(new SshError("AGENT", `the agent did not answer within ${this.timeout} ms (${what})`)),
          this.timeout,
        );
      }
      this.tail = this.tail.then(async () => {
        try {
          if (settled) return; // timed out or aborted while queued
          if (this.closed) throw new SshError("AGENT", `the agent client was closed (${what})`);
          const conn = await this.connect();
          if (settled) return;
          onWire = conn;
          settle(null, await conn.exchange(frame));
        } catch (err) {
          settle(err instanceof Error ? err : new SshError("AGENT", String(err)));
        } finally {
          onWire = null;
          if (secret) frame.fill(0);
        }
      });
    });
  }

  /** The open connection, or a new one if there is none or the last one broke. */
  private async connect(): Promise<AgentConnection> {
    if (this.connection && !this.connection.dead) return this.connection;
    this.connection = null;
    const conn = await AgentConnection.open(this.socketPath);
    if (this.closed) {
      conn.fail(new SshError("AGENT", "the agent client was closed"));
      throw new SshError("AGENT", "the agent client was closed");
    }
    this.connection = conn;
    return conn;
  }
}
