/**
 * Flow control of one channel (RFC 4254 §5.2). Inbound: the window we grant the peer, checked on every
 * data packet and refilled only for bytes the consumer has read. Outbound: writes waiting for the peer's
 * window, cut into packets no larger than its maximum, each framed with its header in one buffer so the
 * bytes are copied once on their way to the transport.
 */
import { Msg, SshError } from "../wire/index.js";

/** OpenSSH's CHAN_SES_WINDOW_DEFAULT (64 * 32 KiB). */
export const DEFAULT_WINDOW = 2 * 1024 * 1024;
/**
 * The largest data packet we send, and offer to accept from nssh peers: four times OpenSSH's
 * CHAN_SES_PACKET_DEFAULT, as each packet costs a cipher context, a tag and a write however small it is
 * (bench/README.md). We send at most the peer's own maximum.
 */
export const DEFAULT_MAX_PACKET = 128 * 1024;
/** OpenSSH's CHAN_SES_PACKET_DEFAULT: what we offer to accept from any other peer. */
export const OPENSSH_MAX_PACKET = 32 * 1024;

/**
 * The maximum packet size to offer a peer (RFC 4254 §5.1). Only our own software gets DEFAULT_MAX_PACKET:
 * OpenSSH re-keys before sending any packet longer than RekeyLimit/16 bytes (packet.c
 * ssh_packet_need_rekeying compares the next packet's bytes with a limit counted in blocks), so with
 * RekeyLimit 1M every 128 KiB packet it sent us would start a key exchange; other peers may do likewise.
 */
export function maxPacketToOffer(peerVersion: string | null): number {
  return peerVersion !== null && /^SSH-2\.0-nssh_/.test(peerVersion)
    ? DEFAULT_MAX_PACKET
    : OPENSSH_MAX_PACKET;
}
/** Largest window a uint32 can express (RFC 4254 §5.2: a window may not grow past 2^32 - 1). */
export const MAX_WINDOW = 0xffffffff;

export class InboundWindow {
  /** Bytes the peer may still send before our next WINDOW_ADJUST. */
  remaining: number;

  constructor(
    readonly size: number,
    readonly maxPacket: number,
  ) {
    this.remaining = size;
  }

  /** Account for a data packet of n bytes; a peer that sends more than allowed is in breach of §5.2. */
  receive(n: number, channel: number): void {
    if (n > this.maxPacket) {
      throw new SshError(
        "PROTOCOL",
        `channel ${channel}: received a data packet of ${n} bytes, over the maximum packet size ${this.maxPacket}`,
      );
    }
    if (n > this.remaining) {
      throw new SshError(
        "PROTOCOL",
        `channel ${channel}: peer ignored channel window (${n} bytes sent, ${this.remaining} allowed)`,
      );
    }
    this.remaining -= n;
  }

  /**
   * How much to grant back now that `buffered` bytes are still unread: everything read since the last
   * adjustment, once that is half the window (fewer, larger WINDOW_ADJUSTs); 0 before then.
   */
  refill(buffered: number): number {
    const consumed = this.size - this.remaining - buffered;
    if (consumed <= 0 || consumed < this.size / 2) return 0;
    this.remaining += consumed;
    return consumed;
  }
}

/** One write waiting to be sent: its chunks (from _write or _writev) and where sending has got to. */
export interface OutData {
  kind: "data";
  /** 0 for CHANNEL_DATA, else the CHANNEL_EXTENDED_DATA type code (1: stderr). */
  ext: number;
  chunks: Buffer[];
  index: number;
  offset: number;
  remaining: number;
  cb: (err?: Error | null) => void;
}

export interface OutEof {
  kind: "eof";
  cb: (err?: Error | null) => void;
}

export type OutItem = OutData | OutEof;

export function dataItem(ext: number, chunks: Buffer[], cb: (err?: Error | null) => void): OutData {
  let remaining = 0;
  for (const c of chunks) remaining += c.length;
  return { kind: "data", ext, chunks, index: 0, offset: 0, remaining, cb };
}

/**
 * CHANNEL_DATA or CHANNEL_EXTENDED_DATA (RFC 4254 §5.2) carrying the next n bytes of `item`, as the
 * message header followed by views of the written chunks: the packet layer copies them once, into the
 * packet it encrypts.
 */
export function frameData(recipient: number, item: OutData, n: number): Buffer[] {
  const head = item.ext === 0 ? 9 : 13;
  const header = Buffer.allocUnsafe(head);
  header[0] = item.ext === 0 ? Msg.CHANNEL_DATA : Msg.CHANNEL_EXTENDED_DATA;
  header.writeUInt32BE(recipient, 1);
  if (item.ext !== 0) header.writeUInt32BE(item.ext, 5);
  header.writeUInt32BE(n, head - 4);
  const parts: Buffer[] = [header];
  let left = n;
  while (left > 0) {
    const chunk = item.chunks[item.index]!;
    const take = Math.min(left, chunk.length - item.offset);
    parts.push(chunk.subarray(item.offset, item.offset + take));
    left -= take;
    item.offset += take;
    if (item.offset === chunk.length) {
      item.index++;
      item.offset = 0;
    }
  }
  item.remaining -= n;
  return parts;
}

/** A message of the form byte type, uint32 recipient channel[, uint32 value]. */
export function channelMessage(type: number, recipient: number, value?: number): Buffer {
  const msg = Buffer.allocUnsafe(value === undefined ? 5 : 9);
  msg[0] = type;
  msg.writeUInt32BE(recipient, 1);
  if (value !== undefined) msg.writeUInt32BE(value, 5);
  return msg;
}
