/**
 * Channel: one SSH channel (RFC 4254 §5) as a Node Duplex. Reading gives the peer's CHANNEL_DATA,
 * writing sends CHANNEL_DATA; `stderr` (a Readable) gives the peer's extended data of type 1 and
 * `stderrWriter` (a Writable) sends it. Events besides the stream ones: 'eof' (the peer's CHANNEL_EOF)
 * and 'request' (a ChannelRequestListener; with no listener, requests are refused). Back-pressure holds
 * both ways: a write completes only once its bytes fit the peer's window and the transport took them,
 * and the peer is granted more window only for bytes our reader has consumed, so a slow reader bounds
 * what is buffered here to the window.
 *
 * Ending: end() sends CHANNEL_EOF once everything written (stdout and stderr) is sent; destroy() sends
 * CHANNEL_CLOSE at once; close() is end() then CLOSE. The stream destroys itself (and so sends CLOSE)
 * when both directions have ended and what the peer sent has been read. When the peer's CLOSE arrives
 * ours is sent back at once (§5.3); the stream is destroyed after its reader has taken what was already
 * received. The channel id is freed by the connection once both CLOSEs have been sent.
 */
import { Duplex, finished, Readable, Writable } from "node:stream";
import type { LogLevel } from "../transport/index.js";
import { Msg, SshError, SshWriter } from "../wire/index.js";
import {
  channelMessage,
  dataItem,
  frameData,
  InboundWindow,
  MAX_WINDOW,
  type OutItem,
} from "./channelWindow.js";
import { PendingReplies, ReplyQueue } from "./replyQueue.js";

/** Our side of a channel: the window we grant and the largest data packet we accept. */
export interface ChannelOptions {
  window?: number;
  maxPacket?: number;
  /**
   * Send CLOSE as soon as EOF has gone both ways (default true). A session's client sets false and waits
   * for the server's CLOSE, which comes after the exit status (as ssh does): sshd may send EOF first.
   */
  closeOnEof?: boolean;
}

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly closed: boolean;
  /** The transport asked us to wait for 'drain'. */
  readonly congested: boolean;
  /**
   * Send one message (whole, or in pieces to be joined); false when the transport is congested (the host
   * waits for its 'drain').
   */
  send(payload: Buffer | readonly Buffer[]): boolean;
  /** Call channel.pump() when the transport has drained. */
  waitForDrain(channel: Channel): void;
  /** Both CLOSEs have been sent: the channel id may be reused. */
  release(channel: Channel): void;
  log(level: LogLevel, message: string): void;
}

export interface ChannelInit {
  host: ChannelHost;
  type: string;
  localId: number;
  remoteId: number;
  window: number;
  maxPacket: number;
  remoteWindow: number;
  /** min(peer's maximum packet, the most we send in one packet). */
  sendPacketSize: number;
  closeOnEof: boolean;
}

/** Handler of a peer's CHANNEL_REQUEST (event 'request'); reply() is a no-op without want-reply. */
export type ChannelRequestListener = (
  name: string,
  wantReply: boolean,
  data: Buffer,
  reply: (ok: boolean) => void,
) => void;

/**
 * The peer's stderr. Like the channel itself it grants window back after every read(): Node calls _read
 * before it takes data from the buffer, and not again until the next push, so a reader that empties a
 * full buffer in one read() would otherwise never be seen to have made room, and the channel would stall.
 */
class StderrReadable extends Readable {
  constructor(private readonly consumed: () => void) {
    super();
  }

  override _read(): void {
    this.consumed();
  }

  // `any`, as Readable.read is declared.
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    this.consumed();
    return chunk;
  }
}

export class Channel extends Duplex {
  readonly type: string;
  readonly localId: number;
  readonly remoteId: number;
  /**
   * What the peer sent as extended data type 1 (stderr, RFC 4254 §5.2). It ends with the peer's EOF or
   * CLOSE and stays readable after the channel has closed; only a channel torn down before then
   * destroys it. It shares the channel's window: read it (or destroy it, which discards what comes)
   * or unread stderr stalls stdout too, as unread stdout would.
   */
  readonly stderr: Readable;
  /**
   * Sends extended data type 1. Ending it sends nothing (SSH has no per-stream EOF); the channel's end()
   * ends it and sends EOF after what was written here.
   */
  readonly stderrWriter: Writable;
  private readonly host: ChannelHost;
  private readonly inbound: InboundWindow;
  private remoteWindow: number;
  private readonly packetSize: number;
  private readonly out: OutItem[] = [];
  private pumping = false;
  private eofSent = false;
  private eofReceived = false;
  private readablesEnded = false;
  private closeSent = false;
  private closeReceived = false;
  private readonly awaiting = new PendingReplies<boolean>();
  private readonly replies: ReplyQueue<boolean>;

  constructor(init: ChannelInit) {
    // autoDestroy is what sends CLOSE once both directions have ended (see _destroy).
    super({ allowHalfOpen: true, autoDestroy: init.closeOnEof });
    this.host = init.host;
    this.type = init.type;
    this.localId = init.localId;
    this.remoteId = init.remoteId;
    this.inbound = new InboundWindow(init.window, init.maxPacket);
    this.remoteWindow = init.remoteWindow;
    this.packetSize = init.sendPacketSize;
    this.stderr = new StderrReadable(() => this.refillWindow());
    this.stderrWriter = new Writable({
      write: (chunk: Buffer, _encoding, cb) => this.enqueue(dataItem(1, [chunk], cb)),
      writev: (chunks, cb) =>
        this.enqueue(
          dataItem(
            1,
            chunks.map((c) => c.chunk as Buffer),
            cb,
          ),
        ),
    });
    this.replies = new ReplyQueue((ok) => {
      // After our CLOSE nothing more may be sent on the channel (RFC 4254 §5.3).
      if (this.closeSent || this.host.closed) return;
      this.host.send(channelMessage(ok ? Msg.CHANNEL_SUCCESS : Msg.CHANNEL_FAILURE, this.remoteId));
    });
  }

  /** Bytes the peer may still send us before our next WINDOW_ADJUST. */
  get incomingWindow(): number {
    return this.inbound.remaining;
  }

  /** Bytes we may still send before the peer's next WINDOW_ADJUST. */
  get outgoingWindow(): number {
    return this.remoteWindow;
  }

  get eofFromPeer(): boolean {
    return this.eofReceived;
  }

  /**
   * Send CHANNEL_REQUEST (RFC 4254 §5.4). With wantReply, resolves true on CHANNEL_SUCCESS and false on
   * CHANNEL_FAILURE, replies matched in order; without, resolves true once sent. Rejects with
   * SshError("CHANNEL_CLOSED") if the channel closes first.
   */
  request(name: string, data: Buffer = Buffer.alloc(0), wantReply = false): Promise<boolean> {
    if (this.closeSent || this.host.closed) {
      return Promise.reject(new SshError("CHANNEL_CLOSED", `channel ${this.localId} is closed`));
    }
    const msg = new SshWriter(16 + name.length + data.length)
      .byte(Msg.CHANNEL_REQUEST)
      .uint32(this.remoteId)
      .string(name)
      .boolean(wantReply)
      .raw(data);
    const reply = wantReply ? this.awaiting.add() : Promise.resolve(true);
    this.host.send(Buffer.from(msg.toBuffer()));
    return reply;
  }

  /** end() then CHANNEL_CLOSE once EOF is out; at once if the channel is already closing. */
  close(): void {
    if (this.destroyed) return;
    if (this.writableFinished || this.closeSent) {
      this.destroy();
      return;
    }
    this.once("finish", () => this.destroy());
    this.end();
  }

  // ---- Duplex --------------------------------------------------------------------------------------

  override _read(): void {
    this.refillWindow();
  }

  /** Every read (the flowing mode's too) may have made room: see StderrReadable. */
  // `any`, as Readable.read is declared.
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    this.refillWindow();
    return chunk;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.enqueue(dataItem(0, [chunk], cb));
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.enqueue(
      dataItem(
        0,
        chunks.map((c) => c.chunk),
        cb,
      ),
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    // stderr written before end() goes out before EOF; whether its writer finished or was destroyed, it is done.
    const writer = this.stderrWriter;
    if (!writer.writableEnded && !writer.destroyed) writer.end();
    finished(writer, () => this.enqueue({ kind: "eof", cb }));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.stderrWriter.destroyed) this.stderrWriter.destroy();
    // What the peer sent as stderr before its EOF stays readable; a channel torn down earlier loses it.
    if (!this.readablesEnded && !this.stderr.destroyed) this.stderr.destroy();
    // Both streams are destroyed now, so failing their pending writes reaches the callbacks only.
    if (this.out.length > 0) {
      const closed = new SshError(
        "CHANNEL_CLOSED",
        `channel ${this.localId} closed before the write was sent`,
      );
      for (const item of this.out.splice(0)) item.cb(closed);
    }
    this.sendClose();
    cb(err);
  }

  // ---- sending -------------------------------------------------------------------------------------

  private enqueue(item: OutItem): void {
    if (this.destroyed) return item.cb(new SshError("CHANNEL_CLOSED", `channel ${this.localId} is closed`));
    this.out.push(item);
    this.pump();
  }

  /**
   * Send what the peer's window and packet size and the transport allow (RFC 4254 §5.2). Called on a
   * write, on WINDOW_ADJUST and when the transport drains. A write's callback runs when its last byte
   * has been handed to the transport.
   */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.out.length > 0 && !this.closeSent) {
        if (this.host.congested) return this.host.waitForDrain(this);
        const item = this.out[0]!;
        if (item.kind === "eof") {
          this.out.shift();
          this.sendEof();
          item.cb();
        } else if (this.eofSent) {
          this.out.shift();
          item.cb(new SshError("CHANNEL_CLOSED", `channel ${this.localId}: write after EOF`));
        } else if (item.remaining === 0) {
          this.out.shift();
          item.cb();
        } else if (this.remoteWindow === 0) {
          return; // wait for CHANNEL_WINDOW_ADJUST
        } else {
          const n = Math.min(item.remaining, this.remoteWindow, this.packetSize);
          const msg = frameData(this.remoteId, item, n);
          this.remoteWindow -= n;
          this.host.send(msg);
          // A transport that failed inside send() has closed us and failed the queued writes already.
          if (this.closeSent) return;
          if (item.remaining === 0) {
            this.out.shift();
            item.cb();
          }
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private sendEof(): void {
    if (this.eofSent || this.closeSent) return;
    this.eofSent = true;
    this.host.send(channelMessage(Msg.CHANNEL_EOF, this.remoteId));
  }

  private sendClose(): void {
    if (this.closeSent) return;
    this.closeSent = true;
    if (!this.host.closed) this.host.send(channelMessage(Msg.CHANNEL_CLOSE, this.remoteId));
    if (this.closeReceived) this.released();
  }

  private released(): void {
    this.host.release(this);
    this.awaiting.failAll(() => new SshError("CHANNEL_CLOSED", `channel ${this.localId} closed`));
    this.replies.clear();
  }

  /** Grant the peer more window for what our readers have consumed (RFC 4254 §5.2). */
  private refillWindow(): void {
    if (this.closeSent || this.eofReceived || this.host.closed) return;
    const stderrBuffered = this.stderr.destroyed ? 0 : this.stderr.readableLength;
    const n = this.inbound.refill(this.readableLength + stderrBuffered);
    if (n > 0) this.host.send(channelMessage(Msg.CHANNEL_WINDOW_ADJUST, this.remoteId, n));
  }

  // ---- receiving (called by the connection, which has checked the id) --------------------------------

  onData(data: Buffer): void {
    if (this.eofReceived) throw new SshError("PROTOCOL", `channel ${this.localId}: data after EOF`);
    this.inbound.receive(data.length, this.localId);
    if (this.destroyed || this.closeSent || data.length === 0) return;
    this.push(data);
  }

  onExtendedData(code: number, data: Buffer): void {
    if (this.eofReceived) throw new SshError("PROTOCOL", `channel ${this.localId}: extended data after EOF`);
    this.inbound.receive(data.length, this.localId);
    if (code === 1 && !this.stderr.destroyed && !this.closeSent) {
      if (data.length > 0) this.stderr.push(data);
      return;
    }
    if (code !== 1) this.host.log("debug1", `channel ${this.localId}: bad extended data type ${code}`);
    this.refillWindow(); // dropped bytes count as consumed
  }

  onWindowAdjust(n: number): void {
    if (this.remoteWindow + n > MAX_WINDOW) {
      throw new SshError(
        "PROTOCOL",
        `channel ${this.localId}: window adjust ${n} overflows remote window ${this.remoteWindow}`,
      );
    }
    this.remoteWindow += n;
    this.pump();
  }

  onEof(): void {
    if (this.eofReceived) throw new SshError("PROTOCOL", `channel ${this.localId}: duplicate EOF`);
    this.eofReceived = true;
    this.endReadables();
    this.emit("eof");
  }

  onClose(): void {
    this.closeReceived = true;
    this.endReadables();
    if (this.closeSent) this.released();
    else this.sendClose(); // RFC 4254 §5.3: answer CLOSE with CLOSE
    if (this.destroyed) return;
    // Keep what was received readable; the stream is destroyed once its reader has had it all.
    if (this.readableEnded) return void this.destroy();
    this.once("end", () => this.destroy());
    this.read(0);
  }

  onRequest(name: string, wantReply: boolean, data: Buffer): void {
    if (this.closeSent) return; // no replies after our CLOSE
    const reply = wantReply ? this.replies.reserve() : () => {};
    if (this.listenerCount("request") === 0) return reply(false);
    this.emit("request", name, wantReply, data, reply);
  }

  onReply(success: boolean): void {
    this.awaiting.settle(success, success ? "CHANNEL_SUCCESS" : "CHANNEL_FAILURE");
  }

  /** The connection ended: no more messages; the stream is destroyed. */
  onConnectionClosed(): void {
    this.closeSent = true;
    this.closeReceived = true;
    this.awaiting.failAll(() => new SshError("CHANNEL_CLOSED", `channel ${this.localId}: connection closed`));
    this.replies.clear();
    if (!this.destroyed) this.destroy();
  }

  private endReadables(): void {
    if (this.readablesEnded) return;
    this.readablesEnded = true;
    if (!this.destroyed) this.push(null);
    if (!this.stderr.destroyed) this.stderr.push(null);
  }
}
