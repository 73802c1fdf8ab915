/**
 * A key exchange that found no algorithm both sides offer (RFC 4253 §7.1), with what ssh prints for it:
 * the kind that failed and each side's whole offer for it, as sent (OpenSSH kex.c kex_choose_conf keeps
 * the peer's list as `failed_choice`; ssh and sshd then log "Unable to negotiate with HOST port N: no
 * matching cipher found. Their offer: ...", packet.c sshpkt_fatal). negotiate() (kexInit.ts) throws it.
 */
import { SshError } from "../wire/index.js";
import type { Role } from "./messagePolicy.js";

export class NegotiationError extends SshError {
  /**
   * @param algorithmKind what had no match, in ssh's words: "key exchange method", "host key type",
   *   "cipher", "MAC", "compression method"
   * @param clientOffer the client's list for it, as its KEXINIT sent it (ext-info and strict KEX markers too)
   * @param serverOffer the server's, likewise
   * @param message the error's message (negotiate() leaves the pseudo-algorithms out of it)
   */
  constructor(
    readonly algorithmKind: string,
    readonly clientOffer: readonly string[],
    readonly serverOffer: readonly string[],
    message: string,
  ) {
    super("KEX_FAILED", message);
  }

  /** The other side's list, for the side that is `ours`. */
  peerOffer(ours: Role): readonly string[] {
    return ours === "client" ? this.serverOffer : this.clientOffer;
  }
}

/** The line a transport of role `ours` logs for a failed negotiation: "no matching cipher found. Their offer: ...". */
export function negotiationLogLine(err: NegotiationError, ours: Role): string {
  return `no matching ${err.algorithmKind} found. Their offer: ${err.peerOffer(ours).join(",")}`;
}
