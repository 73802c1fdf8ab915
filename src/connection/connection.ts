/**
 * Connection: the SSH connection protocol (RFC 4254) over an authenticated Transport: the channel
 * multiplexer (open, confirm, refuse, route every channel message by id, free ids only after both
 * CLOSEs), global requests, and the transport back-pressure shared by all channels. What channels mean
 * (sessions, forwarding, agents) belongs to the layers above, through open handlers and requests.
 */
import { EventEmitter } from "node:events";
import type { LogLevel, Transport, TransportLogger } from "../transport/index.js";
import { Msg, SshError, SshReader } from "../wire/index.js";
import { Channel, type ChannelHost, type ChannelOptions } from "./channel.js";
import {
  ChannelOpenError,
  encodeChannelOpen,
  encodeOpenConfirmation,
  encodeOpenFailure,
  MAX_DATA_PACKET,
  parseChannelOpen,
  parseOpenConfirmation,
  parseOpenFailure,
  positiveInteger,
  resolveChannelOptions,
  type ChannelOpenHandler,
  type IncomingChannelOpen,
} from "./channelOpen.js";
import { ChannelOpenFailure, channelOpenFailureText, decodeChannelOpenInfo } from "./channelTypes.js";
import { DEFAULT_MAX_PACKET, DEFAULT_WINDOW, maxPacketToOffer } from "./channelWindow.js";
import { GlobalRequests, type GlobalReply, type GlobalRequestHandler } from "./globalRequests.js";

export const DEFAULT_MAX_CHANNELS = 1024;

export interface ConnectionOptions extends ChannelOptions {
  /** Channels open at once (both directions, including opens in progress); more get RESOURCE_SHORTAGE. */
  maxChannels?: number;
  /** The most data we put in one packet, further limited by each peer's maximum (default 32 KiB). */
  sendPacketSize?: number;
  log?: TransportLogger;
}

export interface ConnectionEvents {
  /** The transport ended; `error` is null for an orderly local close. */
  close: [error: SshError | null];
}

interface Opening {
  kind: "opening";
  type: string;
  window: number;
  maxPacket: number;
  closeOnEof: boolean;
  aborted: boolean;
  resolve: (channel: Channel) => void;
  reject: (err: Error) => void;
  detach: () => void;
}

type Slot = Channel | Opening | { kind: "deciding" };

export class Connection extends EventEmitter<ConnectionEvents> {
  readonly transport: Transport;
  private readonly slots = new Map<number, Slot>();
  private readonly openHandlers = new Map<string, ChannelOpenHandler>();
  private readonly global: GlobalRequests;
  private readonly drainWaiters = new Set<Channel>();
  private readonly host: ChannelHost;
  private readonly defaults: Required<ChannelOptions>;
  private readonly maxChannels: number;
  private readonly sendPacketSize: number;
  private readonly logger: TransportLogger | undefined;
  private congested = false;
  private closed = false;

  constructor(transport: Transport, options: ConnectionOptions = {}) {
    super();
    if (transport.isClosed) throw new SshError("CONNECTION_LOST", "transport is closed");
    if (!transport.authenticated) {
      throw new SshError("PROTOCOL", "the connection protocol starts after user authentication");
    }
    this.transport = transport;
    this.logger = options.log;
    this.defaults = resolveChannelOptions(options, {
      window: DEFAULT_WINDOW,
      maxPacket: maxPacketToOffer(transport.peerVersion),
      closeOnEof: true,
    });
    this.maxChannels = positiveInteger(options.maxChannels ?? DEFAULT_MAX_CHANNELS, "maxChannels", 2 ** 31);
    this.sendPacketSize = positiveInteger(
      options.sendPacketSize ?? DEFAULT_MAX_PACKET,
      "sendPacketSize",
      MAX_DATA_PACKET,
    );
    const self = this;
    this.host = {
      get closed() {
        return self.closed;
      },
      get congested() {
        return self.congested;
      },
      send: (payload) => this.send(payload),
      waitForDrain: (channel) => this.drainWaiters.add(channel),
      release: (channel) => this.release(channel),
      log: (level, message) => this.log(level, message),
    };
    this.global = new GlobalRequests(
      (payload) => this.send(payload),
      (level, message) => this.log(level, message),
    );
    transport.setMessageHandler((type, payload) => this.onMessage(type, payload));
    transport.on("drain", () => this.onDrain());
    transport.once("close", (err) => this.onTransportClose(err));
  }

  /** Channels whose ids are in use: open, half-closed, or being opened. */
  get channelCount(): number {
    return this.slots.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Open a channel (RFC 4254 §5.1). Resolves when the peer confirms; rejects with ChannelOpenError
   * (code CHANNEL_OPEN_FAILED, with its reason) when it refuses, or SshError("ABORTED") on the signal
   * (a confirmation arriving later is then closed at once).
   */
  openChannel(
    type: string,
    typeSpecificData: Buffer = Buffer.alloc(0),
    options: ChannelOptions & { signal?: AbortSignal } = {},
  ): Promise<Channel> {
    if (this.closed) return Promise.reject(new SshError("CONNECTION_LOST", "connection is closed"));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new SshError("ABORTED", `open of ${type} channel aborted`));
    let o: Required<ChannelOptions>;
    try {
      o = resolveChannelOptions(options, this.defaults);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.allocateId();
    if (id === null) {
      return Promise.reject(new ChannelOpenError(ChannelOpenFailure.RESOURCE_SHORTAGE, "too many channels"));
    }
    return new Promise<Channel>((resolve, reject) => {
      const onAbort = (): void => {
        opening.aborted = true;
        reject(new SshError("ABORTED", `open of ${type} channel aborted`));
      };
      const opening: Opening = {
        kind: "opening",
        type,
        ...o,
        aborted: false,
        resolve,
        reject,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.slots.set(id, opening);
      this.log("debug1", `channel ${id}: new ${type}`);
      this.send(encodeChannelOpen(type, id, o, typeSpecificData));
    });
  }

  /**
   * Decide the peer's CHANNEL_OPENs of `type` (null removes the handler). Types without a handler are
   * refused with UNKNOWN_CHANNEL_TYPE. A handler that throws has the open refused with CONNECT_FAILED.
   */
  setChannelOpenHandler(type: string, handler: ChannelOpenHandler | null): void {
    if (handler) this.openHandlers.set(type, handler);
    else this.openHandlers.delete(type);
  }

  /**
   * Send GLOBAL_REQUEST (RFC 4254 §4). With wantReply (the default) resolves on the peer's reply, in
   * request order; without, resolves { success: true } once sent.
   */
  globalRequest(name: string, data: Buffer = Buffer.alloc(0), wantReply = true): Promise<GlobalReply> {
    if (this.closed) return Promise.reject(new SshError("CONNECTION_LOST", "connection is closed"));
    return this.global.request(name, data, wantReply);
  }

  /**
   * Decide the peer's global requests. The default refuses all; keepalive@openssh.com is always
   * answered with failure (as OpenSSH does) and no-more-sessions@openssh.com always honoured, without
   * reaching the handler.
   */
  setGlobalRequestHandler(handler: GlobalRequestHandler): void {
    this.global.handler = handler;
  }

  /** Disconnect the transport (BY_APPLICATION); every channel is destroyed. */
  close(): void {
    if (!this.closed) this.transport.disconnect();
  }

  // ---- plumbing shared by the channels -------------------------------------------------------------

  private send(payload: Buffer | readonly Buffer[]): boolean {
    if (this.closed || this.transport.isClosed) return false;
    const ok = this.transport.send(payload);
    if (!ok) this.congested = true;
    return ok;
  }

  /** The transport drained: let the waiting channels send, oldest first, until it fills up again. */
  private onDrain(): void {
    this.congested = false;
    for (const channel of this.drainWaiters) {
      if (this.congested) break;
      this.drainWaiters.delete(channel);
      channel.pump();
    }
  }

  private log(level: LogLevel, message: string): void {
    this.logger?.(level, message);
  }

  private allocateId(): number | null {
    if (this.slots.size >= this.maxChannels) return null;
    for (let id = 0; ; id++) if (!this.slots.has(id)) return id;
  }

  private release(channel: Channel): void {
    if (this.slots.get(channel.localId) !== channel) return;
    this.slots.delete(channel.localId);
    this.drainWaiters.delete(channel);
    this.log("debug2", `channel ${channel.localId}: free`);
  }

  private newChannel(
    localId: number,
    type: string,
    ours: Required<ChannelOptions>,
    remoteId: number,
    remoteWindow: number,
    remoteMaxPacket: number,
  ): Channel {
    const channel = new Channel({
      host: this.host,
      type,
      localId,
      remoteId,
      window: ours.window,
      maxPacket: ours.maxPacket,
      remoteWindow,
      sendPacketSize: Math.min(remoteMaxPacket, this.sendPacketSize),
      closeOnEof: ours.closeOnEof,
    });
    this.slots.set(localId, channel);
    return channel;
  }

  private channel(id: number, what: string): Channel {
    const slot = this.slots.get(id);
    if (slot instanceof Channel) return slot;
    throw new SshError("PROTOCOL", `${what} for ${slot ? "non-open" : "unknown"} channel ${id}`);
  }

  // ---- incoming messages ---------------------------------------------------------------------------

  private onMessage(type: number, payload: Buffer): void {
    switch (type) {
      case Msg.CHANNEL_DATA: {
        // The hot path: parsed by hand, the data passed on as a view of the packet.
        if (payload.length < 9) throw new SshError("MALFORMED", "truncated CHANNEL_DATA");
        if (payload.readUInt32BE(5) !== payload.length - 9) {
          throw new SshError("MALFORMED", "CHANNEL_DATA length does not match the packet");
        }
        return this.channel(payload.readUInt32BE(1), "CHANNEL_DATA").onData(payload.subarray(9));
      }
      case Msg.CHANNEL_EXTENDED_DATA: {
        const r = new SshReader(payload, 1);
        const channel = this.channel(r.uint32(), "CHANNEL_EXTENDED_DATA");
        const code = r.uint32();
        const data = r.string(payload.length, "extended data");
        r.done("CHANNEL_EXTENDED_DATA");
        return channel.onExtendedData(code, data);
      }
      case Msg.CHANNEL_WINDOW_ADJUST: {
        const r = new SshReader(payload, 1);
        const channel = this.channel(r.uint32(), "CHANNEL_WINDOW_ADJUST");
        const n = r.uint32();
        r.done("CHANNEL_WINDOW_ADJUST");
        return channel.onWindowAdjust(n);
      }
      case Msg.CHANNEL_EOF:
      case Msg.CHANNEL_CLOSE:
      case Msg.CHANNEL_SUCCESS:
      case Msg.CHANNEL_FAILURE: {
        const r = new SshReader(payload, 1);
        const channel = this.channel(r.uint32(), `message ${type}`);
        r.done(`message ${type}`);
        if (type === Msg.CHANNEL_EOF) return channel.onEof();
        if (type === Msg.CHANNEL_CLOSE) return channel.onClose();
        return channel.onReply(type === Msg.CHANNEL_SUCCESS);
      }
      case Msg.CHANNEL_REQUEST: {
        const r = new SshReader(payload, 1);
        const channel = this.channel(r.uint32(), "CHANNEL_REQUEST");
        const name = r.ascii(1024, "request type");
        const wantReply = r.boolean();
        return channel.onRequest(name, wantReply, r.rest());
      }
      case Msg.CHANNEL_OPEN:
        return this.onChannelOpen(payload);
      case Msg.CHANNEL_OPEN_CONFIRMATION:
        return this.onOpenConfirmation(payload);
      case Msg.CHANNEL_OPEN_FAILURE:
        return this.onOpenFailure(payload);
      case Msg.GLOBAL_REQUEST:
        return this.global.onRequest(payload);
      case Msg.REQUEST_SUCCESS:
      case Msg.REQUEST_FAILURE:
        return this.global.onReply(type, payload);
      default:
        // 50-79 after authentication: nothing for us (the transport filters what may arrive).
        this.log("debug2", `connection: ignoring message ${type}`);
    }
  }

  private onChannelOpen(payload: Buffer): void {
    const { type, remoteId, remoteWindow, remoteMaxPacket, data } = parseChannelOpen(payload);
    this.log(
      "debug1",
      `input_channel_open: ctype ${type} rchan ${remoteId} win ${remoteWindow} max ${remoteMaxPacket}`,
    );
    if (type === "session" && this.global.noMoreSessions) {
      // OpenSSH session.c: the client promised no more sessions (no-more-sessions@openssh.com).
      throw new SshError(
        "PROTOCOL",
        "Possible attack: attempt to open a session after additional sessions disabled",
      );
    }
    const info = decodeChannelOpenInfo(type, data);
    const refuse = (reason: number, description: string): void => {
      this.send(encodeOpenFailure(remoteId, reason, description));
    };
    const handler = this.openHandlers.get(type);
    if (!handler) return refuse(ChannelOpenFailure.UNKNOWN_CHANNEL_TYPE, "unknown channel type");
    const id = this.allocateId();
    if (id === null) return refuse(ChannelOpenFailure.RESOURCE_SHORTAGE, "too many channels");
    const slot = { kind: "deciding" as const };
    this.slots.set(id, slot);
    let decided = false;
    const decide = (): boolean => {
      if (decided) throw new SshError("PROTOCOL", `channel open ${type} has already been answered`);
      decided = true;
      if (this.slots.get(id) !== slot) return false; // the connection closed meanwhile
      this.slots.delete(id);
      return true;
    };
    const request: IncomingChannelOpen = {
      type,
      data,
      info,
      accept: (options = {}) => {
        const ours = resolveChannelOptions(options, this.defaults);
        if (!decide())
          throw new SshError("CONNECTION_LOST", "connection closed before the open was accepted");
        const channel = this.newChannel(id, type, ours, remoteId, remoteWindow, remoteMaxPacket);
        this.send(encodeOpenConfirmation(remoteId, id, ours));
        this.log("debug1", `channel ${id}: new ${type} (accepted)`);
        return channel;
      },
      reject: (reason, description = "") => {
        if (decide()) refuse(reason, description);
      },
    };
    try {
      handler(request);
    } catch (err) {
      this.log("error", `channel open handler for ${type} failed: ${(err as Error)?.message ?? err}`);
      if (!decided) request.reject(ChannelOpenFailure.CONNECT_FAILED, "internal error");
    }
  }

  private opening(id: number, what: string): Opening {
    const slot = this.slots.get(id);
    if (slot && !(slot instanceof Channel) && slot.kind === "opening") return slot;
    throw new SshError("PROTOCOL", `${what} for channel ${id}, which is not being opened`);
  }

  private onOpenConfirmation(payload: Buffer): void {
    const c = parseOpenConfirmation(payload);
    const opening = this.opening(c.id, "CHANNEL_OPEN_CONFIRMATION");
    opening.detach();
    const channel = this.newChannel(
      c.id,
      opening.type,
      opening,
      c.remoteId,
      c.remoteWindow,
      c.remoteMaxPacket,
    );
    this.log("debug2", `channel ${c.id}: open confirm rwindow ${c.remoteWindow} rmax ${c.remoteMaxPacket}`);
    if (opening.aborted) channel.destroy();
    else opening.resolve(channel);
  }

  private onOpenFailure(payload: Buffer): void {
    const f = parseOpenFailure(payload);
    const opening = this.opening(f.id, "CHANNEL_OPEN_FAILURE");
    opening.detach();
    this.slots.delete(f.id);
    this.log("debug1", `channel ${f.id}: open failed: ${channelOpenFailureText(f.reason)}: ${f.description}`);
    if (!opening.aborted) opening.reject(new ChannelOpenError(f.reason, f.description));
  }

  private onTransportClose(err: SshError | null): void {
    this.closed = true;
    const error = err ?? new SshError("CONNECTION_LOST", "connection closed");
    const slots = [...this.slots.values()];
    this.slots.clear();
    this.drainWaiters.clear();
    for (const slot of slots) {
      if (slot instanceof Channel) slot.onConnectionClosed();
      else if (slot.kind === "opening") {
        slot.detach();
        if (!slot.aborted) slot.reject(error);
      }
    }
    this.global.close(error);
    this.emit("close", err);
  }
}
