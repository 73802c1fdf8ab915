/** Which transport messages a payload is, for the send path (RFC 4253 §7.1, RFC 4250 §4.1.2). */
import { Msg } from "../wire/index.js";

/** The message number of a payload given whole or in pieces. */
export function messageType(payload: Buffer | readonly Buffer[]): number {
  return Buffer.isBuffer(payload) ? payload[0]! : payload[0]![0]!;
}

/**
 * Messages that may be sent while a key exchange runs (RFC 4253 §7.1): the generic transport messages
 * (1-4), KEXINIT, NEWKEYS and the method's own (30-49). Everything else waits for our NEWKEYS.
 */
export function isKexMessage(type: number): boolean {
  return (
    (type >= 1 && type <= 4) || type === Msg.KEXINIT || type === Msg.NEWKEYS || (type >= 30 && type <= 49)
  );
}
