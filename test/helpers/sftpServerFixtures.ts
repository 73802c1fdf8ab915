/**
 * Fixtures for the SFTP server tests: our library server (createServer) serving the "sftp" subsystem with
 * the given SftpServerOptions and a fresh ed25519 user key, and runners for the real OpenSSH `sftp` and
 * `scp` against it (no config file, the server's key pinned in a known_hosts, batch mode, a hard time
 * limit), plus hashing of files for checks on disk. close() ends the server and removes the temp folder.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { PrivateKey } from "../../src/keys/index.js";
import { createServer, type SshServer } from "../../src/server/index.js";
import {
  PacketType,
  SftpPacketParser,
  decodeVersion,
  encodePacket,
  handleSftpSubsystem,
  type SftpPacket,
  type SftpServerOptions,
} from "../../src/sftp/index.js";
import { SshReader, type SshWriter } from "../../src/wire/index.js";
import { makeUserKey, type KeyFile } from "./authHelpers.js";
import { envWithoutAgent, type ProgramRun } from "./processes.js";

export const USER = os.userInfo().username;

export interface SftpTestServer {
  server: SshServer;
  port: number;
  /** A folder for the test's files (removed by close()). */
  dir: string;
  userKey: KeyFile;
  knownHostsFile: string;
  /** Log lines of the SSH layers and the SFTP server ("level: message"). */
  log: string[];
  /** Options every OpenSSH client run uses (before -P/-i and the destination). */
  sshOptions: string[];
  close(): Promise<void>;
}

export async function startSftpTestServer(
  sftp: SftpServerOptions | (() => SftpServerOptions) = {},
): Promise<SftpTestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sftp-"));
  const userKey = makeUserKey(dir, "id_ed25519", "ed25519");
  const hostKey = PrivateKey.generate("ssh-ed25519");
  const log: string[] = [];
  const sftpOptions = (clientVersion: string | null): SftpServerOptions => {
    const o = typeof sftp === "function" ? sftp() : sftp;
    return {
      ...o,
      ...(clientVersion !== null ? { clientVersion } : {}),
      log: (level, message) => log.push(`${level}: ${message}`),
    };
  };
  const server = createServer({
    hostKeys: [hostKey],
    failureDelayMs: 0,
    auth: { checkPublicKey: ({ username, key }) => username === USER && key.equals(userKey.key.publicKey) },
    log: (level, message) => {
      if (level !== "debug3" && level !== "debug2") log.push(`${level}: ${message}`);
    },
    onSession: (session, connection) =>
      handleSftpSubsystem(session, () => sftpOptions(connection.transport.peerVersion)),
  });
  server.on("error", (err) => log.push(`error: server: ${err.message}`));
  const { port } = await server.listen(0, "127.0.0.1");
  const knownHostsFile = path.join(dir, "known_hosts");
  fs.writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostKey.publicKey.toLine()}\n`);
  const sshOptions = [
    "-F",
    "/dev/null",
    "-o",
    `UserKnownHostsFile=${knownHostsFile}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-i",
    userKey.file,
    "-P",
    String(port),
  ];
  return {
    server,
    port,
    dir,
    userKey,
    knownHostsFile,
    log,
    sshOptions,
    async close() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run a program with a working directory and optional stdin; SIGKILL after the time limit. */
export function runTool(
  cmd: string,
  args: string[],
  options: { cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: envWithoutAgent(),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 25_000);
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

/** OpenSSH `sftp -b script` against the server, run in `cwd` (local paths are relative to it). */
export function runSftpBatch(
  srv: SftpTestServer,
  script: string,
  options: { cwd?: string; args?: string[]; timeoutMs?: number } = {},
): Promise<ProgramRun> {
  const scriptFile = path.join(srv.dir, `batch-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(scriptFile, script);
  return runTool(
    "sftp",
    [...srv.sshOptions, ...(options.args ?? []), "-b", scriptFile, `${USER}@127.0.0.1`],
    options,
  );
}

/** OpenSSH `scp` (SFTP mode unless -O is given) with the server's options; "remote:" means the server. */
export function runScp(
  srv: SftpTestServer,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<ProgramRun> {
  const mapped = args.map((a) => (a.startsWith("remote:") ? `${USER}@127.0.0.1:${a.slice(7)}` : a));
  return runTool("scp", [...srv.sshOptions, "-q", ...mapped], options);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A file of `size` pseudo-random bytes (fast: one random 1 MiB block, varied per MiB). */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, i);
  const fd = await fs.promises.open(file, "w");
  try {
    let written = 0;
    let n = 0;
    while (written < size) {
      block.writeUInt32LE(n++, 0);
      const len = Math.min(block.length, size - written);
      await fd.write(block, 0, len, written);
      written += len;
    }
  } finally {
    await fd.close();
  }
}

/** A raw SFTP peer: writes packets, reads replies. */
export class RawPeer {
  private readonly parser = new SftpPacketParser(1024 * 1024);
  private readonly replies: SftpPacket[] = [];
  private waiter: (() => void) | null = null;
  private nextId = 1;

  constructor(
    readonly toServer: NodeJS.WritableStream,
    fromServer: NodeJS.ReadableStream,
  ) {
    // A server that ended the session (as it must for some bad input) makes later writes fail with EPIPE.
    toServer.on("error", () => {});
    fromServer.on("data", (chunk: Buffer) => {
      this.replies.push(...this.parser.push(chunk));
      this.waiter?.();
    });
  }

  raw(bytes: Buffer): void {
    this.toServer.write(bytes);
  }

  /** Send a request; returns its id. */
  request(type: number, body: (w: SshWriter) => void = () => {}): number {
    const id = this.nextId++;
    this.raw(
      encodePacket(type, (w) => {
        w.uint32(id);
        body(w);
      }),
    );
    return id;
  }

  async reply(): Promise<SftpPacket> {
    while (this.replies.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no reply within 10 s")), 10_000);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
    return this.replies.shift()!;
  }

  async init(): Promise<Map<string, string>> {
    this.raw(encodePacket(PacketType.INIT, (w) => w.uint32(3)));
    const v = await this.reply();
    assert.equal(v.type, PacketType.VERSION);
    return decodeVersion(v.payload).extensions;
  }

  /** The next reply must be a STATUS for `id` with `code`. */
  async status(id: number, code: number): Promise<string> {
    const p = await this.reply();
    assert.equal(p.type, PacketType.STATUS, `expected STATUS, got type ${p.type}`);
    const r = new SshReader(p.payload);
    assert.equal(r.uint32(), id);
    const got = r.uint32();
    const message = r.string().toString();
    assert.equal(got, code, `status ${got} (${message}), expected ${code}`);
    return message;
  }

  async handle(id: number): Promise<Buffer> {
    const p = await this.reply();
    assert.equal(p.type, PacketType.HANDLE, `expected HANDLE, got ${p.type}`);
    const r = new SshReader(p.payload);
    assert.equal(r.uint32(), id);
    return Buffer.from(r.string());
  }
}
