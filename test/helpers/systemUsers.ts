/**
 * Helpers for the daemon's system-account tests (root only): throwaway users made with useradd -m and
 * chpasswd (yescrypt, Debian's default), their keys and authorized_keys; a library server (createServer)
 * whose every connection gets createSystemAuthPolicy and startLoginSession, as nsshd wires them; and
 * OpenSSH's ssh (under sshpass for passwords) running a command against it.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PrivateKey } from "../../src/keys/index.js";
import { createServer, type ServerConnection } from "../../src/server/index.js";
import { createSystemAuthPolicy, type SystemAuthPolicy } from "../../src/daemon/systemAuthPolicy.js";
import { startLoginSession } from "../../src/daemon/login.js";
import { defaultLoginSettings, type LoginLog, type LoginSettings } from "../../src/daemon/loginSettings.js";
import { envWithoutAgent, type ProgramRun } from "./processes.js";

export { isRoot } from "./authHelpers.js";

function must(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

export interface TestUser {
  name: string;
  password: string;
  uid: number;
  gid: number;
  home: string;
  /** An ed25519 key made for this user (private key file outside the home, for ssh -i). */
  keyFile: string;
  publicKeyLine: string;
  /** Write ~/.ssh/authorized_keys (owned by the user, mode 600; ~/.ssh 700). */
  authorize(lines: string[]): void;
  remove(): void;
}

/** A user with a home folder, shell /bin/bash, a random password (hashed by chpasswd: yescrypt) and a key. */
export function createTestUser(opts: { groups?: string[]; prefix?: string } = {}): TestUser {
  const name = `${opts.prefix ?? "nsshl"}${randomBytes(4).toString("hex")}`;
  const password = `pw-${randomBytes(9).toString("base64url")}`;
  must("useradd", [
    "-m",
    "-s",
    "/bin/bash",
    ...(opts.groups?.length ? ["-G", opts.groups.join(",")] : []),
    name,
  ]);
  let removed = false;
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-login-key-"));
  const remove = (): void => {
    if (removed) return;
    removed = true;
    spawnSync("pkill", ["-KILL", "-u", name]);
    spawnSync("userdel", ["-f", "-r", name]);
    fs.rmSync(keyDir, { recursive: true, force: true });
  };
  process.once("exit", remove);
  try {
    must("chpasswd", [], `${name}:${password}\n`);
    const pw = must("getent", ["passwd", name]).trim().split(":");
    const uid = Number(pw[2]);
    const gid = Number(pw[3]);
    const home = pw[5]!;
    const keyFile = path.join(keyDir, "id_ed25519");
    must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", keyFile]);
    const publicKeyLine = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
    const authorize = (lines: string[]): void => {
      const dir = path.join(home, ".ssh");
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.chmodSync(dir, 0o700);
      fs.chownSync(dir, uid, gid);
      const file = path.join(dir, "authorized_keys");
      fs.writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
      fs.chmodSync(file, 0o600);
      fs.chownSync(file, uid, gid);
    };
    return { name, password, uid, gid, home, keyFile, publicKeyLine, authorize, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** The password hash in /etc/shadow (to check that it is yescrypt: "$y$..."). */
export function shadowHash(user: string): string {
  return must("getent", ["shadow", user]).split(":")[1] ?? "";
}

export function createTestGroup(): { name: string; remove(): void } {
  const name = `nsshg${randomBytes(3).toString("hex")}`;
  must("groupadd", [name]);
  const remove = (): void => void spawnSync("groupdel", [name]);
  process.once("exit", remove);
  return { name, remove };
}

// ---- a library server with the system policy and the login process ----------------------------------

export interface LoginServer {
  port: number;
  /** "level: message" lines from the policy, the login process and the library. */
  log: string[];
  close(): Promise<void>;
}

export async function startLoginServer(settings: Partial<LoginSettings> = {}): Promise<LoginServer> {
  const log: string[] = [];
  const logger: LoginLog = {
    error: (m) => log.push(`error: ${m}`),
    info: (m) => log.push(`info: ${m}`),
    verbose: (m) => log.push(`verbose: ${m}`),
    debug1: (m) => log.push(`debug1: ${m}`),
    debug2: (m) => log.push(`debug2: ${m}`),
    debug3: () => {},
  };
  const effective: LoginSettings = { ...defaultLoginSettings(), printMotd: false, ...settings };
  const server = createServer({
    hostKeys: [PrivateKey.generate("ssh-ed25519")],
    auth: {},
    failureDelayMs: 5,
    log: (level, message) => {
      if (level !== "debug3") log.push(`${level}: ${message}`);
    },
  });
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const info = {
      remoteAddress: socket.remoteAddress ?? "UNKNOWN",
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "UNKNOWN",
      localPort: socket.localPort ?? 0,
    };
    const policy: SystemAuthPolicy = createSystemAuthPolicy(async () => effective, info, logger);
    const transport = server.handleSocket(socket, info, {
      auth: policy,
      onSession: (session, conn: ServerConnection) => {
        const grant = policy.grantFor(conn.user.username);
        if (!grant) {
          logger.error(`no grant for ${conn.user.username}`);
          session.channel.destroy();
          return;
        }
        startLoginSession(session, conn, grant, effective, logger);
      },
    });
    transport.once("close", () => policy.close());
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const port = (listener.address() as net.AddressInfo).port;
  return {
    port,
    log,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await server.close();
    },
  };
}

// ---- OpenSSH's ssh --------------------------------------------------------------------------------

export interface SshOptions {
  user: string;
  command?: string;
  identity?: string;
  password?: string;
  /** ssh -tt: a PTY even without a terminal here. */
  tty?: boolean;
  /** PreferredAuthentications, e.g. "keyboard-interactive". */
  methods?: string;
  options?: Record<string, string>;
  timeoutMs?: number;
  /** Typed into the session (stdin stays open until then; without it stdin is /dev/null). */
  input?: string;
  /** Typed in turn, each once its prompt has appeared in the output (since the previous answer). */
  answers?: { prompt: RegExp; send: string }[];
}

function run(
  cmd: string,
  argv: string[],
  input: string | undefined,
  answers: { prompt: RegExp; send: string }[],
  timeoutMs: number,
): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      stdio: [input === undefined && answers.length === 0 ? "ignore" : "pipe", "pipe", "pipe"],
      env: envWithoutAgent(),
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let seen = 0;
    const pending = [...answers];
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const next = pending[0];
      if (next && next.prompt.test(stdout.slice(seen))) {
        pending.shift();
        seen = stdout.length;
        child.stdin!.write(next.send);
      }
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin?.on("error", () => {});
    if (input !== undefined) child.stdin!.write(input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** ssh -F /dev/null against 127.0.0.1:port with a throwaway known_hosts, no agent; under sshpass with a password. */
export async function sshTo(port: number, o: SshOptions): Promise<ProgramRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-login-ssh-"));
  try {
    const opts: Record<string, string> = {
      UserKnownHostsFile: path.join(dir, "known_hosts"),
      GlobalKnownHostsFile: "/dev/null",
      StrictHostKeyChecking: "no",
      BatchMode: o.password === undefined ? "yes" : "no",
      ConnectTimeout: "5",
      LogLevel: "ERROR",
      ...(o.identity ? { IdentitiesOnly: "yes" } : { PubkeyAuthentication: "no" }),
      ...(o.methods ? { PreferredAuthentications: o.methods } : {}),
      NumberOfPasswordPrompts: "1",
      ...(o.options ?? {}),
    };
    const args = [
      "-F",
      "/dev/null",
      ...Object.entries(opts).flatMap(([k, v]) => ["-o", `${k}=${v}`]),
      ...(o.identity ? ["-i", o.identity] : []),
      ...(o.tty ? ["-tt"] : []),
      "-p",
      String(port),
      `${o.user}@127.0.0.1`,
      ...(o.command !== undefined ? [o.command] : []),
    ];
    const [cmd, argv] =
      o.password === undefined ? ["ssh", args] : ["sshpass", ["-p", o.password, "ssh", ...args]];
    return await run(cmd, argv, o.input, o.answers ?? [], o.timeoutMs ?? 20_000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
