/**
 * The keys ssh offers, in its order (sshconnect2.c pubkey_prepare): the agent's keys first (those that
 * are also identity files in their place), then the identity files the agent does not hold; with
 * IdentitiesOnly only keys that are identity files. A passphrase-protected file is offered by its public
 * half and decrypted only when the server accepts it, with "Enter passphrase for key '...': " asked up to
 * NumberOfPasswordPrompts times, as ssh does.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AgentClient } from "../../agent/index.js";
import type { UserKeySigner } from "../../auth/index.js";
import {
  inspectPrivateKey,
  parsePrivateKey,
  parsePublicKeyFile,
  readOpenSshPrivateKeyInfo,
  type PrivateKey,
  type PublicKey,
} from "../../keys/index.js";
import { SshError } from "../../wire/index.js";
import type { CliLog } from "./log.js";
import { readPassphrase } from "./readPassphrase.js";

export function expandTilde(p: string, home = os.homedir()): string {
  return p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}

/** A key file whose private half is read (and decrypted) when first needed. */
class FileIdentity implements UserKeySigner {
  private key: PrivateKey | null = null;
  private failed: SshError | null = null;

  constructor(
    readonly file: string,
    readonly publicKey: PublicKey,
    private readonly data: Buffer,
    private readonly prompts: number,
    private readonly batchMode: boolean,
    private readonly log: CliLog,
    loaded: PrivateKey | null,
  ) {
    this.key = loaded;
  }

  get comment(): string {
    return this.file;
  }

  async sign(data: Buffer, algorithm: string): Promise<Buffer> {
    if (!this.key) this.key = await this.decrypt();
    return this.key.sign(data, algorithm);
  }

  private async decrypt(): Promise<PrivateKey> {
    if (this.failed) throw this.failed;
    for (let i = 0; i < this.prompts && !this.batchMode; i++) {
      const pass = await readPassphrase(`Enter passphrase for key '${this.file}': `, this.log);
      if (pass === null || pass === "") break;
      try {
        return parsePrivateKey(this.data, pass);
      } catch (err) {
        if (!(err instanceof SshError) || err.code !== "BAD_PASSPHRASE") throw err;
        this.log.debug2("bad passphrase given, try again...");
      }
    }
    this.failed = new SshError("BAD_PASSPHRASE", `no passphrase for ${this.file}`);
    throw this.failed;
  }
}

export interface IdentityOptions {
  identityFiles: string[];
  identitiesOnly: boolean;
  /** The agent socket, or undefined for none. */
  agentSocket: string | undefined;
  numberOfPasswordPrompts: number;
  batchMode: boolean;
  log: CliLog;
}

/** Read one identity file; null (and a debug line, as ssh) when it is missing or unusable. */
function loadFile(file: string, o: IdentityOptions): FileIdentity | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    o.log.debug1(`identity file ${file} type -1`);
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      o.log.error(`Load key "${file}": ${(err as Error).message}`);
    return null;
  }
  try {
    const { format, encrypted } = inspectPrivateKey(data);
    if (!encrypted) {
      const key = parsePrivateKey(data);
      o.log.debug1(`identity file ${file} type ${key.publicKey.type}`);
      return new FileIdentity(file, key.publicKey, data, o.numberOfPasswordPrompts, o.batchMode, o.log, key);
    }
    let pub: PublicKey;
    if (format === "openssh") pub = readOpenSshPrivateKeyInfo(data).publicKey;
    else pub = parsePublicKeyFile(fs.readFileSync(file + ".pub")).key;
    o.log.debug1(`identity file ${file} type ${pub.type}`);
    return new FileIdentity(file, pub, data, o.numberOfPasswordPrompts, o.batchMode, o.log, null);
  } catch (err) {
    o.log.error(`Load key "${file}": ${(err as Error).message}`);
    return null;
  }
}

export interface Identities {
  signers: UserKeySigner[];
  close(): void;
}

export async function prepareIdentities(o: IdentityOptions): Promise<Identities> {
  const files = o.identityFiles
    .map((f) => loadFile(expandTilde(f), o))
    .filter((f): f is FileIdentity => f !== null);
  const signers: UserKeySigner[] = [];
  let agent: AgentClient | null = null;
  if (o.agentSocket) {
    try {
      // The agent client loads only when there is an agent to ask.
      const { AgentClient } = await import("../../agent/agentClient.js");
      agent = new AgentClient(o.agentSocket);
      const keys = await agent.listKeys();
      for (const k of keys) {
        const file = files.find((f) => f.publicKey.equals(k.publicKey));
        if (file) signers.push({ publicKey: k.publicKey, comment: file.file, sign: (d, a) => k.sign(d, a) });
        else if (!o.identitiesOnly) signers.push(k);
      }
    } catch (err) {
      o.log.debug1(`get_agent_identities: ${(err as Error).message}`);
      agent?.close();
      agent = null;
    }
  }
  const agentKeys = new Set<UserKeySigner>();
  for (const f of files) if (!signers.some((s) => s.publicKey.equals(f.publicKey))) signers.push(f);
  for (const s of signers) {
    const agentKey = !(s instanceof FileIdentity);
    if (agentKey) agentKeys.add(s);
    o.log.debug1(
      `Will attempt key: ${s.comment ?? ""} ${s.publicKey.type} ${s.publicKey.fingerprintSha256()}` +
        (agentKey ? " agent" : " explicit"),
    );
  }
  return { signers, close: () => agent?.close() };
}
