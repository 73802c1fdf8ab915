/**
 * User authentication across nsshd's process split. The pre-auth worker runs the protocol (it parses what
 * the network sends) and asks the monitor every question of AuthPolicy over IPC; the monitor answers them
 * from the real policy (accounts, authorized_keys, PAM), and keeps its own record of what succeeded: it
 * verifies publickey signatures itself against the session id it signed, so a compromised worker cannot
 * claim a login it did not earn. It also signs exchange hashes with host keys only it holds.
 */
import type { AuthPolicy, KeyboardInteractiveChallenge, PublicKeyRequestFields } from "../../auth/index.js";
import { MethodChains, publicKeySignedData } from "../../auth/index.js";
import { PublicKey } from "../../keys/index.js";
import { createServer, type SshServer } from "../../server/index.js";
import type { HostKeySigner } from "../../transport/index.js";
import type { TransportSettings } from "./messages.js";
import type { IpcPeer } from "./ipc.js";
import { bool, bytes, list, object, optional, str, uint, type Check } from "./schema.js";

const conn = uint(2 ** 31);
const user = str(256);
const keyBlob = bytes(16 * 1024);
const MAX_PROMPTS = 32;
/** Allowed keys a worker remembers per connection (remoteAuthPolicy). */
const MAX_REMEMBERED_KEYS = 16;

/** Every request a worker may make, with the checks its arguments must pass. */
export const WORKER_REQUESTS = {
  sign: object({ conn, key: uint(63), algorithm: str(64), data: bytes(64) }),
  userExists: object({ conn, username: user }),
  allowNone: object({ conn, username: user }),
  checkPublicKey: object({ conn, username: user, key: keyBlob, service: str(64) }),
  publicKeyVerified: object({
    conn,
    username: user,
    method: str(64),
    algorithm: str(64),
    key: keyBlob,
    hostKey: optional(keyBlob),
    service: str(64),
    signature: bytes(16 * 1024),
  }),
  checkPassword: object({ conn, username: user, password: str(1024) }),
  changePassword: object({ conn, username: user, oldPassword: str(1024), newPassword: str(1024) }),
  keyboardInteractive: object({ conn, username: user, submethods: str(256) }),
} satisfies Record<string, Check<unknown>>;

const passwordVerdict: Check<boolean | { changeRequired: string }> = (v, path) =>
  typeof v === "boolean" ? v : object({ changeRequired: str(1024) })(v, path);
const challenge = object({
  name: optional(str(1024)),
  instructions: optional(str(4096)),
  prompts: list(object({ prompt: str(1024), echo: bool }), MAX_PROMPTS),
});
const answers = list(str(1024), MAX_PROMPTS);
/** Hash lengths of every key exchange we have (SHA-1 to SHA-512): nothing else is signed. */
const EXCHANGE_HASH_LENGTHS = new Set([20, 32, 48, 64]);

// ---- worker side ---------------------------------------------------------------------------------------

/** A host key whose private half is in the monitor: signing is a request. */
export function remoteHostKeySigner(
  peer: IpcPeer,
  connId: number,
  index: number,
  publicKey: PublicKey,
): HostKeySigner {
  return {
    publicKey,
    sign: (data, algorithm) =>
      peer.request("sign", { conn: connId, key: index, algorithm, data }, bytes(16 * 1024)),
  };
}

/** keyboard-interactive conversations in progress in this worker, by connection. */
const conversations = new Map<number, (c: KeyboardInteractiveChallenge) => Promise<string[]>>();

/** Worker: answer the monitor's "ask" requests (prompts of a keyboard-interactive conversation). */
export function serveConversations(peer: IpcPeer): void {
  peer.handle("ask", object({ conn, challenge }), ({ conn: id, challenge: c }) => {
    const ask = conversations.get(id);
    if (!ask) throw new Error("no conversation on this connection");
    return ask(c as KeyboardInteractiveChallenge);
  });
}

/** Worker: the AuthPolicy of one connection, every answer from the monitor. */
export function remoteAuthPolicy(peer: IpcPeer, connId: number): AuthPolicy {
  const c = connId;
  /**
   * Keys the monitor allowed on this connection (user, service, key). A client's signed request follows
   * its query for the same key, and the library asks checkPublicKey again for it: the query's yes stands
   * here, one round trip less per login. Nothing is given away: the monitor checks the key again itself
   * when the signature comes (publicKeyVerified), against the files as they are then.
   */
  const allowedKeys = new Set<string>();
  return {
    userExists: (username) => peer.request("userExists", { conn: c, username }, bool),
    allowNone: ({ username }) => peer.request("allowNone", { conn: c, username }, bool),
    checkPublicKey: async ({ username, key, service }) => {
      const id = `${username}\0${service}\0${key.blob.toString("base64")}`;
      if (allowedKeys.has(id)) return true;
      const allowed = await peer.request(
        "checkPublicKey",
        { conn: c, username, key: key.blob, service },
        bool,
      );
      if (allowed && allowedKeys.size < MAX_REMEMBERED_KEYS) allowedKeys.add(id);
      return allowed;
    },
    publicKeyVerified: ({ username, request, signature }) =>
      peer.request(
        "publicKeyVerified",
        {
          conn: c,
          username,
          method: request.method,
          algorithm: request.algorithm,
          key: request.keyBlob,
          ...(request.hostKeyBlob ? { hostKey: request.hostKeyBlob } : {}),
          service: request.service,
          signature,
        },
        bool,
      ),
    // The monitor verifies the signature against the session id it signed: the worker need not.
    verifiesSignatures: true,
    checkPassword: ({ username, password }) =>
      peer.request("checkPassword", { conn: c, username, password }, passwordVerdict),
    changePassword: ({ username, oldPassword, newPassword }) =>
      peer.request("changePassword", { conn: c, username, oldPassword, newPassword }, bool),
    keyboardInteractive: async ({ username, submethods }, ask) => {
      conversations.set(c, ask);
      try {
        return await peer.request("keyboardInteractive", { conn: c, username, submethods }, bool);
      } finally {
        conversations.delete(c);
      }
    },
  };
}

// ---- monitor side --------------------------------------------------------------------------------------

/** What the monitor knows of one pre-auth connection. */
export interface MonitoredConnection {
  readonly policy: AuthPolicy;
  /** AuthenticationMethods for a user (after Match), to check a claimed login against what succeeded. */
  readonly methodChains: (username: string) => Promise<{ chains?: string[][]; enabled: string[] }>;
  sessionId: Buffer | null;
  /** Methods that succeeded by the monitor's own record, in order, and the user they were for. */
  readonly successes: { method: string; username: string; key?: PublicKey }[];
  /** The monitor's own count of failed attempts, against MaxAuthTries (the worker's count is not trusted). */
  failures?: number;
  readonly maxAuthTries?: number;
  /** The host key (index) this connection's first exchange was signed with. */
  hostKeyIndex?: number;
}

export interface MonitorAuthOptions {
  /** Host keys by index, as the worker was told their public halves. */
  hostKeys: readonly HostKeySigner[];
  /** The connection `id` if this worker owns it, else undefined (the request is then refused). */
  connection(id: number): MonitoredConnection | undefined;
  /** Session ids already used: a worker must not replay another connection's (and its signatures). */
  sessionIdSeen(id: Buffer): boolean;
  /** Only signatures (a session process re-keying): no authentication questions. */
  signOnly?: boolean;
  /** Before authentication a connection is signed for once (OpenSSH's MON_ONCE): no pre-auth re-keys. */
  preauth?: boolean;
}

/** Monitor: answer one worker's authentication requests. */
export function serveWorkerAuth(peer: IpcPeer, opts: MonitorAuthOptions): void {
  const own = (id: number): MonitoredConnection => {
    const c = opts.connection(id);
    if (!c) throw new Error(`connection ${id} is not this worker's`);
    return c;
  };
  const record = (c: MonitoredConnection, method: string, username: string, ok: boolean, key?: PublicKey) => {
    if (ok) {
      if (c.successes.length < 16) c.successes.push({ method, username, ...(key ? { key } : {}) });
    } else if (method !== "none") {
      c.failures = (c.failures ?? 0) + 1;
    }
    return ok;
  };
  /** Past MaxAuthTries (counted here) the monitor answers no more questions for the connection. */
  const ownForAuth = (id: number): MonitoredConnection => {
    const c = own(id);
    if ((c.failures ?? 0) >= (c.maxAuthTries ?? 6)) throw new Error("too many authentication failures");
    return c;
  };
  peer.handle("sign", WORKER_REQUESTS.sign, async ({ conn: id, key, algorithm, data }) => {
    const c = own(id);
    if (!EXCHANGE_HASH_LENGTHS.has(data.length)) throw new Error("refusing to sign: not an exchange hash");
    const signer = opts.hostKeys[key];
    if (!signer) throw new Error("no such host key");
    // The first exchange hash a connection has signed is its session id (RFC 4253 §7.2).
    if (!c.sessionId) {
      if (opts.sessionIdSeen(data)) throw new Error("refusing to sign: exchange hash already used");
      c.sessionId = Buffer.from(data);
      c.hostKeyIndex = key;
    } else if (opts.preauth) {
      throw new Error("refusing to sign: one key exchange before authentication");
    }
    return Buffer.from(await signer.sign(data, algorithm));
  });
  if (opts.signOnly) return;
  peer.handle(
    "userExists",
    WORKER_REQUESTS.userExists,
    async ({ conn: id, username }) => (await ownForAuth(id).policy.userExists?.(username)) ?? true,
  );
  peer.handle("allowNone", WORKER_REQUESTS.allowNone, async ({ conn: id, username }) => {
    const c = ownForAuth(id);
    return record(c, "none", username, (await c.policy.allowNone?.({ username })) === true);
  });
  peer.handle(
    "checkPublicKey",
    WORKER_REQUESTS.checkPublicKey,
    async ({ conn: id, username, key, service }) => {
      const c = ownForAuth(id);
      const publicKey = PublicKey.fromBlob(key);
      return (await c.policy.checkPublicKey?.({ username, key: publicKey, service })) === true;
    },
  );
  peer.handle("publicKeyVerified", WORKER_REQUESTS.publicKeyVerified, async (r) => {
    const c = ownForAuth(r.conn);
    if (!c.sessionId) throw new Error("no key exchange was signed on this connection");
    // What the signature says it is for must be this server's: the connection service, and for
    // publickey-hostbound-v00 the very host key this connection was signed with.
    if (r.service !== "ssh-connection") return record(c, "publickey", r.username, false);
    if (r.method !== "publickey" && r.method !== "publickey-hostbound-v00@openssh.com") {
      return record(c, "publickey", r.username, false);
    }
    const ours = opts.hostKeys[c.hostKeyIndex ?? -1]?.publicKey.blob;
    if (r.method !== "publickey" && !(r.hostKey && ours && r.hostKey.equals(ours))) {
      return record(c, "publickey", r.username, false);
    }
    const key = PublicKey.fromBlob(r.key);
    const request: PublicKeyRequestFields = {
      username: r.username,
      service: r.service,
      method: r.method,
      algorithm: r.algorithm,
      keyBlob: r.key,
      ...(r.hostKey ? { hostKeyBlob: r.hostKey } : {}),
    };
    // The worker's word is not enough: the key must be allowed, and the signature must verify here.
    const allowed =
      (await c.policy.checkPublicKey?.({ username: r.username, key, service: r.service })) === true;
    const signed =
      allowed && key.verify(publicKeySignedData(c.sessionId, request), r.signature, [r.algorithm]);
    const confirmed =
      signed &&
      (await c.policy.publicKeyVerified?.({ username: r.username, key, request, signature: r.signature })) !==
        false;
    return record(c, "publickey", r.username, confirmed, key);
  });
  peer.handle("checkPassword", WORKER_REQUESTS.checkPassword, async ({ conn: id, username, password }) => {
    const c = ownForAuth(id);
    const verdict = (await c.policy.checkPassword?.({ username, password })) ?? false;
    record(c, "password", username, verdict === true);
    return verdict;
  });
  peer.handle("changePassword", WORKER_REQUESTS.changePassword, async (r) => {
    const c = ownForAuth(r.conn);
    const ok =
      (await c.policy.changePassword?.({
        username: r.username,
        oldPassword: r.oldPassword,
        newPassword: r.newPassword,
      })) === true;
    return record(c, "password", r.username, ok);
  });
  peer.handle(
    "keyboardInteractive",
    WORKER_REQUESTS.keyboardInteractive,
    async ({ conn: id, username, submethods }) => {
      const c = ownForAuth(id);
      const ask = (ch: KeyboardInteractiveChallenge): Promise<string[]> =>
        peer.request("ask", { conn: id, challenge: ch }, answers).then((a) => {
          if (a.length !== ch.prompts.length) throw new Error("wrong number of answers");
          return a;
        });
      const ok = (await c.policy.keyboardInteractive?.({ username, submethods }, ask)) === true;
      return record(c, "keyboard-interactive", username, ok);
    },
  );
}

/**
 * Monitor: does the record of successes authenticate `username`? Every success must be for that user, and
 * with AuthenticationMethods they must complete one of its lists in order (sshd_config(5)).
 */
export async function loginEarned(
  c: MonitoredConnection,
  username: string,
): Promise<PublicKey | null | false> {
  if (c.successes.length === 0 || c.successes.some((s) => s.username !== username)) return false;
  const { chains, enabled } = await c.methodChains(username);
  const replay = new MethodChains(chains, enabled);
  let key: PublicKey | null = null;
  for (const s of c.successes) {
    if (!replay.allowed(s.method)) return false;
    if (s.key) key = s.key;
    if (replay.complete(s.method)) return key;
  }
  return false;
}

/**
 * A child's library server for one configuration generation: the transport settings the monitor sent, and
 * host keys that sign through it. Connection 0 is never served: each connection gets signers that name it.
 */
export function generationServer(
  peer: IpcPeer,
  t: TransportSettings,
): { server: SshServer; hostKeys: PublicKey[] } {
  const hostKeys = t.hostKeys.map((b) => PublicKey.fromBlob(Buffer.from(b)));
  const server = createServer({
    hostKeys: hostKeys.map((k, i) => remoteHostKeySigner(peer, 0, i, k)),
    auth: {},
    kex: t.kex,
    ciphers: t.ciphers,
    macs: t.macs,
    hostKeyAlgorithms: t.hostKeyAlgorithms,
    ...(t.compression ? { compression: t.compression } : {}),
    ...(t.rekeyLimit ? { rekeyLimit: t.rekeyLimit } : {}),
  });
  return { server, hostKeys };
}
