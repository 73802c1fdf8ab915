/**
 * A key exchange that found no algorithm both sides offer (RFC 4253 §7.1), with what ssh prints for it:
 * the kind that failed and the peer's whole offer for it, as sent (OpenSSH kex.c kex_choose_conf keeps
 * the peer's list as `failed_choice`; ssh and sshd then log "Unable to negotiate with HOST port N: no
 * matching cipher found. Their offer: ...", packet.c sshpkt_fatal).
 */
import { SshError } from "../wire/index.js";
import { parseKexInit } from "./kexInit.js";
import type { ResolvedLists } from "./options.js";

/** How negotiate() (kexInit.ts) words a failure: "no matching cipher found: client ... server ...". */
const NO_MATCH = /^no matching (.+?) found: client /;
/** How the transport logs one: ssh's and sshd's words, less "Unable to negotiate with HOST port N: ". */
const LOGGED_NO_MATCH = /^no matching .+? found\. Their offer: /;

/** True for the line a transport logs for a failed negotiation (negotiationLogLine). */
export function isNegotiationFailure(message: string): boolean {
  return LOGGED_NO_MATCH.test(message);
}

export class NegotiationError extends SshError {
  /** What had no match, in ssh's words: "key exchange method", "host key type", "cipher", "MAC", ... */
  readonly algorithmKind: string;
  /** The peer's list for it, as its KEXINIT sent it (with ext-info and strict KEX markers). */
  readonly peerOffer: readonly string[];

  constructor(failure: SshError, algorithmKind: string, peerOffer: readonly string[]) {
    super(failure.code, failure.message, { disconnectReason: failure.disconnectReason });
    this.algorithmKind = algorithmKind;
    this.peerOffer = peerOffer;
  }
}

/** The line a transport logs for a failed negotiation: "no matching cipher found. Their offer: ...". */
export function negotiationLogLine(err: NegotiationError): string {
  return `no matching ${err.algorithmKind} found. Their offer: ${err.peerOffer.join(",")}`;
}

/**
 * The same failure with the peer's offer attached, when `err` is a failed negotiation of the peer's KEXINIT
 * `peerKexInit`; any other error as it is.
 */
export function withPeerOffer(err: unknown, peerKexInit: Buffer, ours: ResolvedLists): unknown {
  const match = err instanceof SshError && err.code === "KEX_FAILED" ? NO_MATCH.exec(err.message) : null;
  if (!match) return err;
  // KeyExchange.onPeerKexInit parsed this payload before negotiating, so it parses.
  const peer = parseKexInit(peerKexInit);
  const kind = match[1]!;
  // Our lists are the same both ways: the direction that failed is the first one with nothing in common,
  // in the order negotiate() tries them (client to server first).
  const pick = (list: "cipher" | "mac" | "compression", first: string[], second: string[]): string[] =>
    first.some((n) => ours[list].includes(n)) ? second : first;
  const offer =
    kind === "key exchange method"
      ? peer.kex
      : kind === "host key type"
        ? peer.hostKey
        : kind === "cipher"
          ? pick("cipher", peer.cipherC2S, peer.cipherS2C)
          : kind === "MAC"
            ? pick("mac", peer.macC2S, peer.macS2C)
            : kind === "compression method"
              ? pick("compression", peer.compressionC2S, peer.compressionS2C)
              : null;
  return offer ? new NegotiationError(err as SshError, kind, offer) : err;
}
