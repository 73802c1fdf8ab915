/**
 * SSH_MSG_KEXINIT (RFC 4253 §7.1): building ours, parsing the peer's, and negotiating each algorithm as
 * the first on the client's list that the server also has. The pseudo-algorithms ext-info-c/s (RFC 8308)
 * and kex-strict-c/s-v00@openssh.com (OpenSSH PROTOCOL, "transport: strict key exchange extension") ride on the kex list.
 */
import { randomBytes } from "node:crypto";
import { Msg, SshError, SshReader, SshWriter } from "../wire/index.js";
import { NegotiationError } from "./negotiationError.js";

export interface AlgorithmLists {
  kex: string[];
  hostKey: string[];
  cipherC2S: string[];
  cipherS2C: string[];
  macC2S: string[];
  macS2C: string[];
  compressionC2S: string[];
  compressionS2C: string[];
}

export interface KexInitMessage extends AlgorithmLists {
  cookie: Buffer;
  languagesC2S: string[];
  languagesS2C: string[];
  firstKexPacketFollows: boolean;
}

export const EXT_INFO_C = "ext-info-c";
export const EXT_INFO_S = "ext-info-s";
export const STRICT_KEX_C = "kex-strict-c-v00@openssh.com";
export const STRICT_KEX_S = "kex-strict-s-v00@openssh.com";
const PSEUDO = new Set([EXT_INFO_C, EXT_INFO_S, STRICT_KEX_C, STRICT_KEX_S]);

export function encodeKexInit(lists: AlgorithmLists): Buffer {
  const w = new SshWriter(1024).byte(Msg.KEXINIT).raw(randomBytes(16));
  for (const l of [
    lists.kex,
    lists.hostKey,
    lists.cipherC2S,
    lists.cipherS2C,
    lists.macC2S,
    lists.macS2C,
    lists.compressionC2S,
    lists.compressionS2C,
  ]) {
    w.nameList(l);
  }
  w.nameList([]).nameList([]).boolean(false).uint32(0);
  return Buffer.from(w.toBuffer());
}

export function parseKexInit(payload: Buffer): KexInitMessage {
  const r = new SshReader(payload);
  if (r.byte() !== Msg.KEXINIT) throw new SshError("PROTOCOL", "not a KEXINIT");
  const cookie = r.bytes(16, "KEXINIT cookie");
  const lists = Array.from({ length: 10 }, (_, i) => r.nameList(64 * 1024, `KEXINIT name-list ${i + 1}`));
  const firstKexPacketFollows = r.boolean();
  r.uint32(); // reserved
  // RFC 4253 §7.1 leaves no room for more; OpenSSH ignores trailing bytes, and so do we.
  return {
    cookie,
    kex: lists[0]!,
    hostKey: lists[1]!,
    cipherC2S: lists[2]!,
    cipherS2C: lists[3]!,
    macC2S: lists[4]!,
    macS2C: lists[5]!,
    compressionC2S: lists[6]!,
    compressionS2C: lists[7]!,
    languagesC2S: lists[8]!,
    languagesS2C: lists[9]!,
    firstKexPacketFollows,
  };
}

export interface NegotiatedAlgorithms {
  kex: string;
  hostKey: string;
  cipherC2S: string;
  cipherS2C: string;
  /** null when the cipher is AEAD (the MAC lists are then not consulted). */
  macC2S: string | null;
  macS2C: string | null;
  compressionC2S: string;
  compressionS2C: string;
}

/** Names without the pseudo-algorithms, for messages. */
const realNames = (list: readonly string[]): string => list.filter((n) => !PSEUDO.has(n)).join(",");

function choose(client: string[], server: string[], what: string): string {
  const found = client.find((n) => !PSEUDO.has(n) && server.includes(n));
  if (!found) {
    const message = `no matching ${what} found: client ${realNames(client)} server ${realNames(server)}`;
    throw new NegotiationError(what, client, server, message);
  }
  return found;
}

/**
 * Negotiate from both KEXINITs (RFC 4253 §7.1). `isAead` tells whether a cipher name carries its own
 * authentication, in which case no MAC need match (as OpenSSH does).
 */
export function negotiate(
  client: AlgorithmLists,
  server: AlgorithmLists,
  isAead: (cipher: string) => boolean,
): NegotiatedAlgorithms {
  // In OpenSSH's order (kex.c kex_choose_conf): the key exchange, the host key, then each direction's
  // cipher, MAC and compression, so that a failure names what ssh and sshd would name.
  const kex = choose(client.kex, server.kex, "key exchange method");
  const hostKey = choose(client.hostKey, server.hostKey, "host key type");
  const cipherC2S = choose(client.cipherC2S, server.cipherC2S, "cipher");
  const macC2S = isAead(cipherC2S) ? null : choose(client.macC2S, server.macC2S, "MAC");
  const compressionC2S = choose(client.compressionC2S, server.compressionC2S, "compression method");
  const cipherS2C = choose(client.cipherS2C, server.cipherS2C, "cipher");
  const macS2C = isAead(cipherS2C) ? null : choose(client.macS2C, server.macS2C, "MAC");
  const compressionS2C = choose(client.compressionS2C, server.compressionS2C, "compression method");
  return { kex, hostKey, cipherC2S, cipherS2C, macC2S, macS2C, compressionC2S, compressionS2C };
}

/**
 * RFC 4253 §7: when the peer sent a guessed first kex packet, the guess is right only if the first kex
 * and host key algorithms of both sides agree; otherwise that packet must be ignored.
 */
export function guessWasWrong(client: AlgorithmLists, server: AlgorithmLists): boolean {
  const firstReal = (l: string[]): string | undefined => l.find((n) => !PSEUDO.has(n));
  return firstReal(client.kex) !== firstReal(server.kex) || client.hostKey[0] !== server.hostKey[0];
}
