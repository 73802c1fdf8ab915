/**
 * Helpers for the user authentication tests:
 *  - a throwaway system user with a random password (root only), for sshd's password and PAM methods;
 *  - a real sshd with PAM on (keyboard-interactive needs it on Debian), host key ed25519, its
 *    authorized_keys readable by that user;
 *  - user keys made by ssh-keygen, read back with our parser;
 *  - the real ssh client, under sshpass when a password is to be typed;
 *  - our server Transport running authenticateServer on each connection, and our client Transport.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { authenticateServer, type AuthenticatedUser, type ServerAuthOptions } from "../../src/auth/index.js";
import { parsePrivateKey, type PrivateKey } from "../../src/keys/index.js";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import { Msg, SshReader, SshWriter, type SshError } from "../../src/wire/index.js";
import { startOpenSshServer, type OpenSshServer } from "./opensshServer.js";
import { envWithoutAgent, runProgram } from "./processes.js";
import {
  startTransportServer,
  type TransportServer,
  type TransportServerConnection,
} from "./transportServer.js";

export const isRoot = process.getuid?.() === 0;

export function sshpassAvailable(): boolean {
  return spawnSync("sshpass", ["-V"]).status === 0;
}

// ---- a throwaway system user ---------------------------------------------------------------------

export interface SystemUser {
  name: string;
  password: string;
  remove(): void;
}

/** A user with no home directory, shell /bin/sh and a random password; null unless we are root. */
export function createSystemUser(): SystemUser | null {
  if (!isRoot) return null;
  const name = `nssht${randomBytes(4).toString("hex")}`;
  const password = `pw-${randomBytes(9).toString("base64url")}`;
  const add = spawnSync("useradd", ["-M", "-s", "/bin/sh", name], { encoding: "utf8" });
  if (add.status !== 0) throw new Error(`useradd failed: ${add.stderr}`);
  const pw = spawnSync("chpasswd", [], { input: `${name}:${password}\n`, encoding: "utf8" });
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    spawnSync("userdel", ["-f", name]);
  };
  process.once("exit", remove);
  if (pw.status !== 0) {
    remove();
    throw new Error(`chpasswd failed: ${pw.stderr}`);
  }
  return { name, password, remove };
}

// ---- a real sshd with PAM ----------------------------------------------------------------------

export interface AuthSshd extends OpenSshServer {
  /** The ed25519 host key's .pub line. */
  hostPublicKey: string;
}

/** A real sshd with PAM, for password and keyboard-interactive logins of a throwaway user. */
export async function startAuthSshd(extraConfig: string[] = []): Promise<AuthSshd> {
  const server = await startOpenSshServer(extraConfig, { pam: true });
  return Object.assign(server, { hostPublicKey: server.hostPublicKeys.get("ed25519")! });
}

// ---- user keys ---------------------------------------------------------------------------------

export interface KeyFile {
  /** The private key file, for ssh -i. */
  file: string;
  key: PrivateKey;
}

/** ssh-keygen -t type [-b bits] into dir, read back with our parser. */
export function makeUserKey(dir: string, name: string, type: string, bits?: number): KeyFile {
  const file = path.join(dir, name);
  const args = ["-q", "-t", type, "-N", "", "-C", name, "-f", file];
  if (bits) args.push("-b", String(bits));
  const r = spawnSync("ssh-keygen", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  const key = parsePrivateKey(fs.readFileSync(file));
  key.comment = name;
  return { file, key };
}

// ---- the real ssh client --------------------------------------------------------------------------

export interface SshRun {
  status: number | null;
  stderr: string;
  stdout: string;
  timedOut: boolean;
}

/**
 * Run ssh -vvv against 127.0.0.1:port with no config file, a throwaway known_hosts and no agent. With
 * `password`, it runs under `sshpass -p`, which types it at any prompt that says "assword"; otherwise in
 * batch mode. `identities`: ssh -i files (IdentitiesOnly); none means PubkeyAuthentication=no.
 */
export async function runSsh(
  port: number,
  opts: {
    user: string;
    identities?: string[];
    password?: string;
    options?: Record<string, string>;
    timeoutMs?: number;
  },
): Promise<SshRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-auth-ssh-"));
  const o: Record<string, string> = {
    ...(opts.options ?? {}),
    UserKnownHostsFile: path.join(dir, "known_hosts"),
    GlobalKnownHostsFile: "/dev/null",
    StrictHostKeyChecking: "no",
    BatchMode: opts.password === undefined ? "yes" : "no",
    ConnectTimeout: "5",
  };
  const ids = opts.identities ?? [];
  if (ids.length === 0) o.PubkeyAuthentication ??= "no";
  else o.IdentitiesOnly = "yes";
  const args = [
    "-F",
    "/dev/null",
    ...Object.entries(o).flatMap(([k, v]) => ["-o", `${k}=${v}`]),
    ...ids.flatMap((f) => ["-i", f]),
    "-vvv",
    "-p",
    String(port),
    `${opts.user}@127.0.0.1`,
    "true",
  ];
  const [cmd, argv] =
    opts.password === undefined ? ["ssh", args] : ["sshpass", ["-p", opts.password, "ssh", ...args]];
  try {
    const r = await runProgram(cmd, argv, { env: envWithoutAgent(), timeoutMs: opts.timeoutMs ?? 15_000 });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout, timedOut: r.timedOut };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- our server with authentication ---------------------------------------------------------------

export interface AuthServerConnection extends TransportServerConnection {
  /** The outcome of authenticateServer on this connection. */
  result: Promise<{ user: AuthenticatedUser | null; error: SshError | null }>;
  /** Messages the connection layer got after authentication. */
  afterAuth: number[];
}

export interface AuthServer {
  server: TransportServer;
  connections: AuthServerConnection[];
  close(): Promise<void>;
}

/**
 * Our server Transport with authenticateServer on each connection. After success, it plays a connection
 * layer that refuses everything: CHANNEL_OPEN_FAILURE to channel opens, REQUEST_FAILURE to global
 * requests that want a reply (so ssh gives up after logging in).
 */
export async function startAuthServer(
  options: (conn: TransportServerConnection) => Omit<ServerAuthOptions, "log">,
  transportOptions: Partial<Omit<TransportOptions, "role" | "socket">> = {},
): Promise<AuthServer> {
  const connections: AuthServerConnection[] = [];
  const server = await startTransportServer(transportOptions, (conn) => {
    const afterAuth: number[] = [];
    const result = authenticateServer(conn.transport, {
      ...options(conn),
      log: (level, message) => conn.log.push(`${level}: ${message}`),
    }).then(
      (user) => {
        conn.transport.setMessageHandler((type, payload) =>
          refuseAll(conn.transport, afterAuth, type, payload),
        );
        return { user, error: null };
      },
      (error: SshError) => ({ user: null, error }),
    );
    connections.push({ ...conn, result, afterAuth });
  });
  return { server, connections, close: () => server.close() };
}

function refuseAll(t: Transport, seen: number[], type: number, payload: Buffer): void {
  seen.push(type);
  if (t.isClosed) return;
  const r = new SshReader(payload, 1);
  if (type === Msg.CHANNEL_OPEN) {
    r.string();
    const sender = r.uint32();
    t.send(
      Buffer.from(
        new SshWriter()
          .byte(Msg.CHANNEL_OPEN_FAILURE)
          .uint32(sender)
          .uint32(1)
          .string("no connection layer in this test")
          .string("")
          .toBuffer(),
      ),
    );
  } else if (type === Msg.GLOBAL_REQUEST) {
    r.string();
    if (r.boolean()) t.send(Buffer.from([Msg.REQUEST_FAILURE]));
  }
}

// ---- our client transport -----------------------------------------------------------------------

export interface ClientConnection {
  transport: Transport;
  log: string[];
  closed: Promise<SshError | null>;
}

/** Our client Transport to 127.0.0.1:port, after its first key exchange. */
export async function connectClient(
  port: number,
  options: Partial<Omit<TransportOptions, "role" | "socket">> = {},
): Promise<ClientConnection> {
  const socket = net.connect(port, "127.0.0.1");
  const log: string[] = [];
  const transport = new Transport({
    verifyHostKey: () => true,
    ...options,
    role: "client",
    socket,
    log: (level, message) => log.push(`${level}: ${message}`),
  });
  const closed = new Promise<SshError | null>((resolve) => transport.once("close", resolve));
  await new Promise<void>((resolve, reject) => {
    transport.once("ready", resolve);
    void closed.then((err) => reject(err ?? new Error("closed before ready")));
  });
  return { transport, log, closed };
}
