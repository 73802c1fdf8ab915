/**
 * The key-exchange half of a transport (RFC 4253 §7-§9): starting and answering KEXINIT, driving the
 * method's messages, NEWKEYS in each direction with the switch to the new keys and compression streams,
 * strict KEX, and when to re-key (by volume, packets and time). Transport (transport.ts) extends it with
 * the socket, the packet pump and dispatch. The peer's EXT_INFO (RFC 8308), which follows NEWKEYS, is
 * taken here too. It is a base class rather than an object the Transport holds so that the per-packet
 * path (send, handlePacket, checkRekey) reads this state as its own fields, with no indirection.
 */
import { EventEmitter } from "node:events";
import {
  cipherByName,
  compressionByName,
  createPacketOpener,
  createPacketSealer,
  macByName,
  restorePacketOpener,
  restorePacketSealer,
  type CompressionAlgorithm,
  type PacketOpener,
  type ProtectionState,
} from "../crypto/index.js";
import { PublicKey, SIGNATURE_ALGORITHMS } from "../keys/index.js";
import { Msg, SshError } from "../wire/index.js";
import { encodeExtInfo, parseExtInfo } from "./extInfo.js";
import type { TransportHandoff } from "./handoff.js";
import { deriveDirectionKeys } from "./keyDerivation.js";
import { KeyExchange, type KexOutcome } from "./keyExchange.js";
import {
  encodeKexInit,
  EXT_INFO_C,
  EXT_INFO_S,
  STRICT_KEX_C,
  STRICT_KEX_S,
  type NegotiatedAlgorithms,
} from "./kexInit.js";
import type { Phase, Role } from "./messagePolicy.js";
import {
  REKEY_PACKET_LIMIT,
  rekeyByteLimit,
  resolveLists,
  type LogLevel,
  type ResolvedLists,
  type TransportOptions,
} from "./options.js";
import { MAX_PAYLOAD_LENGTH, PacketReader, PacketWriter } from "./packetCodec.js";
import { toSshError } from "./transportErrors.js";
import type { TransportEvents } from "./transportEvents.js";
import { formatVersionLine } from "./versionExchange.js";

export const DEFAULT_SOFTWARE_VERSION = "nssh_0.1";

export abstract class KeyExchangeDriver extends EventEmitter<TransportEvents> {
  readonly role: Role;
  protected readonly opts: TransportOptions;
  protected readonly lists: ResolvedLists;
  protected readonly reader = new PacketReader();
  protected readonly writer = new PacketWriter();
  readonly localVersion: string;
  peerVersion: string | null = null;

  protected phase: Phase = "kex-initial";
  protected kex: KeyExchange | null = null;
  protected ourNewKeysSent = false;
  protected peerNewKeysReceived = false;
  private pendingIncoming: PacketOpener | null = null;
  protected firstAfterNewKeys = false;
  protected strict = false;
  protected initialKexDone = false;
  protected readonly rekeyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  protected rekeyTimer: NodeJS.Timeout | null = null;
  private byteLimit = 2 ** 30;
  /** Set while dispatch waits for an asynchronous step (host key check, signing). */
  protected waiting: Promise<void> | null = null;
  protected closed = false;
  private outCompression: CompressionAlgorithm | null = null;
  private inCompression: CompressionAlgorithm | null = null;

  /** Session identifier: the exchange hash of the first key exchange (RFC 4253 §7.2). */
  sessionId: Buffer | null = null;
  negotiated: NegotiatedAlgorithms | null = null;
  /** The server's host key of this connection: verified (client) or signed with (server) in the first exchange. */
  hostKey: PublicKey | null = null;
  /** The peer's EXT_INFO extensions, by name. */
  peerExtensions = new Map<string, Buffer>();

  constructor(options: TransportOptions, handoff?: TransportHandoff) {
    super();
    this.opts = options;
    this.role = options.role;
    this.lists = resolveLists(options);
    this.localVersion =
      handoff?.localVersion ??
      formatVersionLine(options.softwareVersion ?? DEFAULT_SOFTWARE_VERSION).trimEnd();
  }

  /** Frame and write one packet now, bypassing the hold of a running exchange. */
  protected abstract writePacket(payload: Buffer | readonly Buffer[]): void;
  /** Send what send() held back while our exchange ran. */
  protected abstract sendHeldOutput(): void;
  protected abstract maybeDrain(): void;
  protected abstract pump(): void;
  protected abstract fail(err: SshError): void;

  protected log(level: LogLevel, message: string, cause?: SshError): void {
    this.opts.log?.(level, message, cause);
  }

  /**
   * Start a key re-exchange now (or join the one running); resolves when it completes. Before user
   * authentication it waits for it: OpenSSH cannot re-key during authentication (packet.c: "client can't
   * cope with rekeying pre-auth"), so neither do we start one then.
   */
  rekey(): Promise<void> {
    if (this.closed) return Promise.reject(new SshError("CONNECTION_LOST", "transport is closed"));
    return new Promise((resolve, reject) => {
      this.rekeyWaiters.push({ resolve, reject });
      if (this.mayStartRekey()) this.startKex();
    });
  }

  protected mayStartRekey(): boolean {
    return !this.kex && this.initialKexDone && this.phase === "authenticated" && !this.closed;
  }

  protected enterAuthenticated(): void {
    this.phase = "authenticated";
    if (this.rekeyWaiters.length > 0 && this.mayStartRekey())
      process.nextTick(() => this.mayStartRekey() && this.startKex());
    // zlib@openssh.com starts after USERAUTH_SUCCESS, in both directions (OpenSSH PROTOCOL §2.3).
    if (!this.writer.compressor) this.restartOutgoingCompression();
    if (!this.reader.decompressor) this.restartIncomingCompression();
  }

  // ---- key exchange --------------------------------------------------------------------------------

  protected startKex(): void {
    const initial = !this.initialKexDone;
    const markers = !initial
      ? []
      : this.role === "client"
        ? [EXT_INFO_C, STRICT_KEX_C]
        : [EXT_INFO_S, STRICT_KEX_S];
    const ourInit = encodeKexInit({
      kex: [...this.lists.kex, ...markers],
      hostKey: this.lists.hostKey,
      cipherC2S: this.lists.cipher,
      cipherS2C: this.lists.cipher,
      macC2S: this.lists.mac,
      macS2C: this.lists.mac,
      compressionC2S: this.lists.compression,
      compressionS2C: this.lists.compression,
    });
    // The version strings are read when the exchange hash is computed, after the peer's has arrived.
    const versions = (): [string, string] =>
      this.role === "client"
        ? [this.localVersion, this.peerVersion!]
        : [this.peerVersion!, this.localVersion];
    this.kex = new KeyExchange(
      {
        role: this.role,
        get clientVersion() {
          return versions()[0];
        },
        get serverVersion() {
          return versions()[1];
        },
        send: (p) => this.writePacket(p),
        log: (level, message) => this.log(level, message),
        hostKeys: this.opts.hostKeys ?? [],
        verifyHostKey: this.opts.verifyHostKey,
        previousHostKey: initial ? null : this.hostKey,
      },
      ourInit,
      initial,
    );
    this.ourNewKeysSent = false;
    this.peerNewKeysReceived = false;
    this.writePacket(ourInit);
    this.log("debug1", "SSH2_MSG_KEXINIT sent");
  }

  protected onKexInit(payload: Buffer, seq: number): void {
    if (!this.kex) this.startKex();
    const kex = this.kex!;
    if (kex.peerKexInitReceived) throw new SshError("PROTOCOL", "duplicate KEXINIT");
    this.log("debug1", "SSH2_MSG_KEXINIT received");
    kex.onPeerKexInit(payload);
    if (kex.initial) {
      this.strict = kex.strictNegotiated;
      if (this.strict && seq !== 0) {
        throw new SshError("PROTOCOL", "strict KEX violation: KEXINIT was not the first packet");
      }
      if (this.opts.requireStrictKex && !this.strict) {
        throw new SshError("KEX_FAILED", "peer does not support strict KEX, which is required");
      }
    }
  }

  protected onKexMessage(type: number, payload: Buffer): void {
    const kex = this.kex;
    if (!kex) throw new SshError("PROTOCOL", `key exchange message ${type} outside key exchange`);
    const step = kex.onMessage(type, payload);
    if (step instanceof Promise) {
      this.waiting = step.then(
        () => {
          this.waiting = null;
          try {
            this.afterKexStep();
          } catch (err) {
            return this.fail(toSshError(err));
          }
          this.pump();
        },
        (err: unknown) => {
          this.waiting = null;
          this.fail(toSshError(err));
        },
      );
    } else {
      this.afterKexStep();
    }
  }

  /** Once the method is complete, send NEWKEYS and switch our outgoing keys (RFC 4253 §7.3). */
  private afterKexStep(): void {
    const kex = this.kex;
    if (this.closed || !kex?.outcome || this.ourNewKeysSent) return;
    const out = kex.outcome;
    if (kex.initial) {
      this.sessionId = out.exchangeHash;
      this.hostKey = out.hostKey;
    }
    this.negotiated = out.negotiated;
    this.writePacket(Buffer.from([Msg.NEWKEYS]));
    this.log("debug1", "SSH2_MSG_NEWKEYS sent");
    const ours = this.directionKeys(out, this.role === "client");
    this.writer.sealer = createPacketSealer(ours.cipher, ours.mac, ours.key, ours.iv, ours.macKey);
    this.writer.resetCounters();
    if (this.strict) this.writer.seq = 0;
    this.ourNewKeysSent = true;
    const theirs = this.directionKeys(out, this.role !== "client");
    this.pendingIncoming = createPacketOpener(
      theirs.cipher,
      theirs.mac,
      theirs.key,
      theirs.iv,
      theirs.macKey,
    );
    const neg = out.negotiated;
    const client = this.role === "client";
    this.outCompression = compressionByName(client ? neg.compressionC2S : neg.compressionS2C)!;
    this.restartOutgoingCompression();
    if (kex.initial && this.role === "server" && out.peerWantsExtInfo) {
      this.writePacket(encodeExtInfo(this.serverExtensions()));
    }
    this.log("debug1", "expecting SSH2_MSG_NEWKEYS");
    this.sendHeldOutput();
    this.completeKexIfDone();
    this.maybeDrain();
  }

  /** The peer's EXT_INFO (RFC 8308 §2.4): right after its first NEWKEYS; a server's may come again later. */
  protected onExtInfo(payload: Buffer): void {
    this.peerExtensions = parseExtInfo(payload);
    this.log("debug1", `SSH2_MSG_EXT_INFO received`);
    for (const [k, v] of this.peerExtensions)
      this.log("debug1", `kex_input_ext_info: ${k}=<${v.toString("latin1")}>`);
    this.emit("extInfo", this.peerExtensions);
  }

  private serverExtensions(): Map<string, string> {
    const sigAlgs = this.opts.serverSigAlgs ?? SIGNATURE_ALGORITHMS.filter((a) => !a.weak).map((a) => a.name);
    return new Map([
      ["server-sig-algs", sigAlgs.join(",")],
      ["publickey-hostbound@openssh.com", "0"],
      ["ping@openssh.com", "0"],
    ]);
  }

  /** One direction's algorithms and keys (RFC 4253 §7.2): we build only the sealer or opener we use. */
  private directionKeys(out: KexOutcome, clientToServer: boolean) {
    const neg = out.negotiated;
    const cipher = cipherByName(clientToServer ? neg.cipherC2S : neg.cipherS2C)!;
    const macName = clientToServer ? neg.macC2S : neg.macS2C;
    const mac = macName ? macByName(macName)! : null;
    const keys = deriveDirectionKeys(
      out.kex.hash,
      out.encodedSecret,
      out.exchangeHash,
      this.sessionId!,
      clientToServer,
      {
        iv: cipher.ivLength,
        key: cipher.keyLength,
        mac: mac?.keyLength ?? 0,
      },
    );
    return { cipher, mac, key: keys.key, iv: keys.iv, macKey: mac ? keys.macKey : null };
  }

  protected onNewKeys(payload: Buffer): void {
    const kex = this.kex;
    if (!kex?.outcome || !this.ourNewKeysSent || this.peerNewKeysReceived) {
      throw new SshError("PROTOCOL", "unexpected NEWKEYS");
    }
    if (payload.length !== 1) throw new SshError("MALFORMED", "NEWKEYS carries data");
    this.log("debug1", "SSH2_MSG_NEWKEYS received");
    this.reader.opener = this.pendingIncoming!;
    this.pendingIncoming = null;
    const neg = kex.outcome.negotiated;
    this.inCompression = compressionByName(this.role === "client" ? neg.compressionS2C : neg.compressionC2S)!;
    this.restartIncomingCompression();
    this.reader.resetCounters();
    if (this.strict) this.reader.seq = 0;
    this.peerNewKeysReceived = true;
    if (kex.initial) this.firstAfterNewKeys = true;
    this.completeKexIfDone();
  }

  private completeKexIfDone(): void {
    const kex = this.kex;
    if (!kex || !this.ourNewKeysSent || !this.peerNewKeysReceived) return;
    this.kex = null;
    const cipher = cipherByName(this.negotiated!.cipherC2S)!;
    this.byteLimit = rekeyByteLimit(cipher.blockSize, this.opts.rekeyLimit?.bytes);
    this.armRekeyTimer();
    const waiters = this.rekeyWaiters.splice(0);
    if (kex.initial) {
      this.initialKexDone = true;
      this.phase = "service";
      this.emit("ready");
    } else {
      this.log("debug1", "rekey completed");
      this.emit("rekeyed");
    }
    for (const w of waiters) w.resolve();
    // A re-key requested while this exchange ran, or a limit reached by what it held back, starts now.
    if (this.rekeyWaiters.length > 0 && this.mayStartRekey()) this.startKex();
    else this.checkRekey();
  }

  private armRekeyTimer(): void {
    if (this.rekeyTimer) clearTimeout(this.rekeyTimer);
    const seconds = this.opts.rekeyLimit?.seconds;
    if (!seconds || seconds <= 0) return;
    this.rekeyTimer = setTimeout(() => {
      this.rekeyTimer = null;
      if (this.phase !== "authenticated") return this.armRekeyTimer();
      if (this.mayStartRekey()) {
        this.log("debug1", "rekeying after time limit");
        this.startKex();
      }
    }, seconds * 1000);
    this.rekeyTimer.unref();
  }

  protected checkRekey(): void {
    if (!this.mayStartRekey()) return;
    const w = this.writer;
    const r = this.reader;
    if (
      w.bytes > this.byteLimit ||
      r.bytes > this.byteLimit ||
      w.packets > REKEY_PACKET_LIMIT ||
      r.packets > REKEY_PACKET_LIMIT
    ) {
      this.log("debug1", "rekeying after data limit");
      this.startKex();
    }
  }

  // ---- compression ---------------------------------------------------------------------------------
  // Each key set starts fresh compression streams, as OpenSSH does (packet.c ssh_set_newkeys); delayed
  // methods (zlib@openssh.com) wait for USERAUTH_SUCCESS (OpenSSH PROTOCOL §2.3).

  private compressionActive(alg: CompressionAlgorithm | null): alg is CompressionAlgorithm {
    return alg !== null && (!alg.delayed || this.phase === "authenticated");
  }

  private restartOutgoingCompression(): void {
    this.writer.compressor?.close();
    this.writer.compressor = this.compressionActive(this.outCompression)
      ? this.outCompression.createCompressor()
      : null;
  }

  private restartIncomingCompression(): void {
    this.reader.decompressor?.close();
    this.reader.decompressor = this.compressionActive(this.inCompression)
      ? this.inCompression.createDecompressor(MAX_PAYLOAD_LENGTH)
      : null;
  }

  // ---- hand-off ------------------------------------------------------------------------------------

  /** The protection state of both directions for a hand-off; throws before anything else is touched. */
  protected exportProtection(): { opener: ProtectionState; sealer: ProtectionState } {
    const opener = this.reader.opener.exportState?.();
    const sealer = this.writer.sealer.exportState?.();
    if (!opener || !sealer) throw new SshError("PROTOCOL", "cannot hand off before keys are in use");
    return { opener, sealer };
  }

  /** What another process needs to go on with this connection (see Transport.handOff()). */
  protected handoffState(
    { opener, sealer }: { opener: ProtectionState; sealer: ProtectionState },
    pendingInput: Buffer,
  ): TransportHandoff {
    return {
      localVersion: this.localVersion,
      peerVersion: this.peerVersion!,
      sessionId: Buffer.from(this.sessionId!),
      negotiated: { ...this.negotiated! },
      hostKeyBlob: Buffer.from(this.hostKey!.blob),
      strictKex: this.strict,
      peerExtensions: [...this.peerExtensions].map(([k, v]) => [k, Buffer.from(v)] as const),
      incoming: {
        seq: this.reader.seq,
        bytes: this.reader.bytes,
        packets: this.reader.packets,
        protection: opener,
      },
      outgoing: {
        seq: this.writer.seq,
        bytes: this.writer.bytes,
        packets: this.writer.packets,
        protection: sealer,
      },
      pendingInput,
    };
  }

  /** Go on with the keys and counters another process handed over: no key exchange, as if it had run here. */
  protected resumeKeying(h: TransportHandoff): void {
    this.peerVersion = h.peerVersion;
    this.sessionId = Buffer.from(h.sessionId);
    this.negotiated = { ...h.negotiated };
    // One of this side's own host keys: their parsed form is shared, not made again per connection.
    const own = this.opts.hostKeys?.find((k) => k.publicKey.blob.equals(h.hostKeyBlob));
    this.hostKey = own ? own.publicKey : PublicKey.fromBlob(Buffer.from(h.hostKeyBlob));
    this.strict = h.strictKex;
    this.peerExtensions = new Map(h.peerExtensions.map(([k, v]) => [k, Buffer.from(v)]));
    this.reader.opener = restorePacketOpener(h.incoming.protection);
    Object.assign(this.reader, { seq: h.incoming.seq, bytes: h.incoming.bytes, packets: h.incoming.packets });
    this.writer.sealer = restorePacketSealer(h.outgoing.protection);
    Object.assign(this.writer, { seq: h.outgoing.seq, bytes: h.outgoing.bytes, packets: h.outgoing.packets });
    this.inCompression = compressionByName(h.negotiated.compressionC2S) ?? null;
    this.outCompression = compressionByName(h.negotiated.compressionS2C) ?? null;
    this.initialKexDone = true;
    this.phase = "userauth";
    this.byteLimit = rekeyByteLimit(
      cipherByName(h.negotiated.cipherC2S)!.blockSize,
      this.opts.rekeyLimit?.bytes,
    );
    this.armRekeyTimer();
  }
}
