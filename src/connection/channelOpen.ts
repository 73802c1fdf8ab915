/**
 * The messages that open a channel (RFC 4254 §5.1), encoded and parsed, the handler-facing view of a
 * peer's CHANNEL_OPEN, the error of a refused open, and the checks on our channel options.
 */
import { MAX_PACKET_LENGTH } from "../transport/index.js";
import { Msg, SshError, SshReader, SshWriter } from "../wire/index.js";
import type { Channel, ChannelOptions } from "./channel.js";
import { channelOpenFailureText, type ChannelOpenInfo } from "./channelTypes.js";
import { MAX_WINDOW } from "./channelWindow.js";

/** Largest data packet that fits a transport payload with room for the EXTENDED_DATA header. */
export const MAX_DATA_PACKET = MAX_PACKET_LENGTH - 1024;

/** A peer's CHANNEL_OPEN (RFC 4254 §5.1), for its type's handler to accept() or reject(), now or later. */
export interface IncomingChannelOpen {
  readonly type: string;
  /** The type-specific data, raw. */
  readonly data: Buffer;
  /** The decoded data for direct-tcpip, forwarded-tcpip, x11 and the streamlocal types. */
  readonly info: ChannelOpenInfo | undefined;
  /** Confirm the open with our window and maximum packet (default: the connection's). */
  accept(options?: ChannelOptions): Channel;
  /** Refuse with a ChannelOpenFailure reason code. */
  reject(reason: number, description?: string): void;
}

export type ChannelOpenHandler = (request: IncomingChannelOpen) => void;

/** The peer refused our CHANNEL_OPEN (or we could not send it): reason is a ChannelOpenFailure code. */
export class ChannelOpenError extends SshError {
  constructor(
    readonly reason: number,
    readonly description: string,
  ) {
    super("CHANNEL_OPEN_FAILED", `open failed: ${channelOpenFailureText(reason)}: ${description}`);
  }
}

/** The fields of CHANNEL_OPEN and CHANNEL_OPEN_CONFIRMATION that describe the peer's side. */
export interface PeerSide {
  remoteId: number;
  remoteWindow: number;
  remoteMaxPacket: number;
}

export function encodeChannelOpen(
  type: string,
  id: number,
  ours: Required<ChannelOptions>,
  data: Buffer,
): Buffer {
  const w = new SshWriter(32 + type.length + data.length)
    .byte(Msg.CHANNEL_OPEN)
    .string(type)
    .uint32(id)
    .uint32(ours.window)
    .uint32(ours.maxPacket)
    .raw(data);
  return Buffer.from(w.toBuffer());
}

export function parseChannelOpen(payload: Buffer): PeerSide & { type: string; data: Buffer } {
  const r = new SshReader(payload, 1);
  const type = r.ascii(256, "channel type");
  const peer = readPeerSide(r, `CHANNEL_OPEN ${type}`);
  return { type, ...peer, data: r.rest() };
}

export function encodeOpenConfirmation(remoteId: number, id: number, ours: Required<ChannelOptions>): Buffer {
  const w = new SshWriter(17)
    .byte(Msg.CHANNEL_OPEN_CONFIRMATION)
    .uint32(remoteId)
    .uint32(id)
    .uint32(ours.window)
    .uint32(ours.maxPacket);
  return Buffer.from(w.toBuffer());
}

/** Our channel id, then the peer's side. Type-specific data may follow (§5.1); no type we know has any. */
export function parseOpenConfirmation(payload: Buffer): PeerSide & { id: number } {
  const r = new SshReader(payload, 1);
  const id = r.uint32();
  return { id, ...readPeerSide(r, `channel ${id}: open confirmation`) };
}

export function encodeOpenFailure(remoteId: number, reason: number, description: string): Buffer {
  const w = new SshWriter(64 + description.length)
    .byte(Msg.CHANNEL_OPEN_FAILURE)
    .uint32(remoteId)
    .uint32(reason)
    .string(description)
    .string("");
  return Buffer.from(w.toBuffer());
}

export function parseOpenFailure(payload: Buffer): { id: number; reason: number; description: string } {
  const r = new SshReader(payload, 1);
  const id = r.uint32();
  const reason = r.uint32();
  const description = r.utf8(4096, "failure description");
  r.string(256, "language tag");
  r.done("CHANNEL_OPEN_FAILURE");
  return { id, reason, description };
}

function readPeerSide(r: SshReader, what: string): PeerSide {
  const remoteId = r.uint32();
  const remoteWindow = r.uint32();
  const remoteMaxPacket = r.uint32();
  // A peer that accepts no data at all cannot have a channel (and would stall every write).
  if (remoteMaxPacket === 0) throw new SshError("PROTOCOL", `${what} with a maximum packet size of 0`);
  return { remoteId, remoteWindow, remoteMaxPacket };
}

export function positiveInteger(v: number, what: string, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new SshError("CONFIG", `${what} must be an integer from 1 to ${max}, not ${v}`);
  }
  return v;
}

export function resolveChannelOptions(
  options: ChannelOptions,
  defaults: Required<ChannelOptions>,
): Required<ChannelOptions> {
  return {
    window: positiveInteger(options.window ?? defaults.window, "window", MAX_WINDOW),
    maxPacket: positiveInteger(options.maxPacket ?? defaults.maxPacket, "maxPacket", MAX_DATA_PACKET),
    closeOnEof: options.closeOnEof ?? defaults.closeOnEof,
  };
}
