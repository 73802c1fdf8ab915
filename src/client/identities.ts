/**
 * The keys a client offers: private keys given as objects, file contents or paths (with ~ expanded), and
 * the keys of a running agent; in that order, without offering one key twice.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AgentClient } from "../agent/index.js";
import type { UserKeySigner } from "../auth/index.js";
import { parsePrivateKey, PrivateKey } from "../keys/index.js";
import { SshError } from "../wire/index.js";

export type IdentitySource = string | Buffer | PrivateKey;

export function expandHome(p: string): string {
  return p === "~" ? os.homedir() : p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
}

function looksLikeKeyText(s: string): boolean {
  return s.includes("-----BEGIN ");
}

/** Load the identities given; a file that cannot be read or decrypted is an error naming it. */
export function loadIdentities(sources: IdentitySource[], passphrase?: string): PrivateKey[] {
  return sources.map((src) => {
    if (src instanceof PrivateKey) return src;
    if (Buffer.isBuffer(src) || looksLikeKeyText(src)) return parsePrivateKey(src, passphrase);
    const file = expandHome(src);
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (err) {
      throw new SshError(
        "KEY_FORMAT",
        `Load key "${file}": ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`,
        {
          cause: err,
        },
      );
    }
    try {
      const key = parsePrivateKey(data, passphrase);
      if (!key.comment) key.comment = file;
      return key;
    } catch (err) {
      if (err instanceof SshError)
        throw new SshError(err.code, `Load key "${file}": ${err.message}`, { cause: err });
      throw err;
    }
  });
}

/** The identities, then the agent's keys that are not among them. */
export async function collectSigners(
  keys: readonly UserKeySigner[],
  agentSocket: string | undefined,
  signal?: AbortSignal,
): Promise<{ signers: UserKeySigner[]; agent: AgentClient | null }> {
  const signers: UserKeySigner[] = [...keys];
  if (!agentSocket) return { signers, agent: null };
  // The agent client loads only when there is an agent to ask.
  const { AgentClient } = await import("../agent/agentClient.js");
  const agent = new AgentClient(agentSocket);
  let agentKeys;
  try {
    agentKeys = await agent.listKeys(signal ? { signal } : {});
  } catch (err) {
    agent.close();
    throw err;
  }
  for (const k of agentKeys) {
    if (!keys.some((own) => own.publicKey.equals(k.publicKey))) signers.push(k);
  }
  return { signers, agent };
}
