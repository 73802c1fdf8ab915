/**
 * One run of key exchange (RFC 4253 §7-8, RFC 4419, RFC 5656 §4, RFC 8731, the PQ hybrids): negotiation
 * from both KEXINITs, the method's messages in their order, the exchange hash, the host key signature.
 * The transport sends and receives the KEXINIT and NEWKEYS packets and installs the keys this produces.
 */
import { createHash } from "node:crypto";
import {
  cipherByName,
  GEX_MAX_BITS,
  GEX_MIN_BITS,
  kexByName,
  macByName,
  type DhGroup,
  type GroupExchangeKex,
  type KexAlgorithm,
  type KexClientSide,
  type KexServerSide,
} from "../crypto/index.js";
import { PublicKey, signatureAlgorithm } from "../keys/index.js";
import { Msg, SshError, SshReader, SshWriter } from "../wire/index.js";
import type { HostKeySigner, HostKeyVerifier } from "./hostKeys.js";
import {
  EXT_INFO_C,
  EXT_INFO_S,
  guessWasWrong,
  negotiate,
  parseKexInit,
  STRICT_KEX_C,
  STRICT_KEX_S,
  type KexInitMessage,
  type NegotiatedAlgorithms,
} from "./kexInit.js";
import type { Role } from "./messagePolicy.js";

export interface KexEnvironment {
  role: Role;
  clientVersion: string;
  serverVersion: string;
  /** Send a kex packet now (kex messages are never queued behind a key exchange). */
  send(payload: Buffer): void;
  log(level: "debug1" | "debug2" | "debug3", message: string): void;
  hostKeys: readonly HostKeySigner[];
  verifyHostKey: HostKeyVerifier | undefined;
  /** The host key accepted at the first exchange; a re-key must present the same one. */
  previousHostKey: PublicKey | null;
}

export interface KexOutcome {
  negotiated: NegotiatedAlgorithms;
  kex: KexAlgorithm;
  exchangeHash: Buffer;
  encodedSecret: Buffer;
  hostKey: PublicKey;
  peerWantsExtInfo: boolean;
}

const NAMES: Record<number, string> = {
  30: "SSH2_MSG_KEX_ECDH_INIT",
  31: "SSH2_MSG_KEX_ECDH_REPLY",
  32: "SSH2_MSG_KEX_DH_GEX_INIT",
  33: "SSH2_MSG_KEX_DH_GEX_REPLY",
  34: "SSH2_MSG_KEX_DH_GEX_REQUEST",
};

export class KeyExchange {
  private peerInit: KexInitMessage | null = null;
  /** The peer's KEXINIT payload exactly as received: I_C or I_S in the exchange hash. */
  private peerInitRaw: Buffer | null = null;
  private negotiated: NegotiatedAlgorithms | null = null;
  private kex: KexAlgorithm | null = null;
  private expect = -1; // the next kex method message number we accept
  private ignoreNextKexPacket = false;
  private client: KexClientSide | null = null;
  private server: KexServerSide | null = null;
  private gex: { min: number; n: number; max: number; group: DhGroup } | null = null;
  private gexRequest: { min: number; n: number; max: number } | null = null;
  /** Set once the method is complete: the transport may then send and accept NEWKEYS. */
  outcome: KexOutcome | null = null;

  constructor(
    private readonly env: KexEnvironment,
    private readonly ourInit: Buffer,
    readonly initial: boolean,
  ) {}

  get peerKexInitReceived(): boolean {
    return this.peerInit !== null;
  }

  /** Handle the peer's KEXINIT; a client then sends its first method message. */
  onPeerKexInit(payload: Buffer): void {
    if (this.peerInit) throw new SshError("PROTOCOL", "duplicate KEXINIT during key exchange");
    this.peerInit = parseKexInit(payload);
    this.peerInitRaw = Buffer.from(payload);
    const ours = parseKexInit(this.ourInit);
    const [c, s] = this.env.role === "client" ? [ours, this.peerInit] : [this.peerInit, ours];
    const neg = negotiate(c, s, (name) => cipherByName(name)?.aead ?? false);
    this.negotiated = neg;
    this.kex = kexByName(neg.kex) ?? null;
    if (!this.kex) throw new SshError("KEX_FAILED", `unsupported key exchange ${neg.kex}`);
    this.env.log("debug1", `kex: algorithm: ${neg.kex}`);
    this.env.log("debug1", `kex: host key algorithm: ${neg.hostKey}`);
    const macName = (m: string | null): string => m ?? "<implicit>";
    this.env.log(
      "debug1",
      `kex: server->client cipher: ${neg.cipherS2C} MAC: ${macName(neg.macS2C)} compression: ${neg.compressionS2C}`,
    );
    this.env.log(
      "debug1",
      `kex: client->server cipher: ${neg.cipherC2S} MAC: ${macName(neg.macC2S)} compression: ${neg.compressionC2S}`,
    );
    if (this.peerInit.firstKexPacketFollows && guessWasWrong(c, s)) this.ignoreNextKexPacket = true;

    if (this.env.role === "client") {
      if (this.kex.kind === "gex") {
        const need = this.keyMaterialBits(neg);
        const n = Math.min(need <= 112 ? 2048 : need <= 128 ? 3072 : need <= 192 ? 7680 : 8192, GEX_MAX_BITS);
        this.gexRequest = { min: GEX_MIN_BITS, n, max: GEX_MAX_BITS };
        this.env.send(
          Buffer.from(
            new SshWriter()
              .byte(Msg.KEX_DH_GEX_REQUEST)
              .uint32(GEX_MIN_BITS)
              .uint32(n)
              .uint32(GEX_MAX_BITS)
              .toBuffer(),
          ),
        );
        this.env.log("debug1", `SSH2_MSG_KEX_DH_GEX_REQUEST(${GEX_MIN_BITS}<${n}<${GEX_MAX_BITS}) sent`);
        this.env.log("debug1", "expecting SSH2_MSG_KEX_DH_GEX_GROUP");
        this.expect = Msg.KEX_DH_GEX_GROUP;
      } else {
        this.client = this.kex.createClient!();
        this.sendValue(Msg.KEX_ECDH_INIT, this.client.publicValue);
        this.env.log("debug1", "expecting SSH2_MSG_KEX_ECDH_REPLY");
        this.expect = Msg.KEX_ECDH_REPLY;
      }
    } else {
      this.expect = this.kex.kind === "gex" ? Msg.KEX_DH_GEX_REQUEST : Msg.KEX_ECDH_INIT;
    }
  }

  /** Bits of key material the negotiated ciphers need, to size a group exchange as OpenSSH does. */
  private keyMaterialBits(neg: NegotiatedAlgorithms): number {
    let need = 0;
    for (const [cn, mn] of [
      [neg.cipherC2S, neg.macC2S],
      [neg.cipherS2C, neg.macS2C],
    ] as const) {
      const c = cipherByName(cn)!;
      need = Math.max(need, c.keyLength, c.blockSize, c.ivLength);
      if (mn) need = Math.max(need, macByName(mn)?.keyLength ?? 0);
    }
    return need * 8;
  }

  private sendValue(type: number, value: Buffer): void {
    const w = new SshWriter(value.length + 16).byte(type);
    if (this.kex!.publicEncoding === "mpint") w.mpint(value);
    else w.string(value);
    this.env.send(Buffer.from(w.toBuffer()));
    this.env.log("debug3", `${NAMES[type] ?? type} sent`);
  }

  private readValue(r: SshReader, what: string): Buffer {
    // Q values are at most a KEM key plus an X25519 key; DH values at most an 8192-bit number.
    return this.kex!.publicEncoding === "mpint" ? r.mpintUnsigned(1025, what) : r.string(4096, what);
  }

  /** A kex method message (30-49). May be asynchronous (host key signing or checking). */
  onMessage(type: number, payload: Buffer): void | Promise<void> {
    if (!this.peerInit) throw new SshError("PROTOCOL", `key exchange message ${type} before KEXINIT`);
    if (this.ignoreNextKexPacket) {
      this.ignoreNextKexPacket = false;
      return;
    }
    if (type !== this.expect) {
      throw new SshError("PROTOCOL", `unexpected key exchange message ${type} (expected ${this.expect})`);
    }
    this.expect = -1;
    const r = new SshReader(payload, 1);
    if (this.env.role === "client") {
      if (type === Msg.KEX_DH_GEX_GROUP && this.kex!.kind === "gex" && !this.client)
        return this.clientGroup(r);
      return this.clientReply(type, r);
    }
    if (type === Msg.KEX_DH_GEX_REQUEST && this.kex!.kind === "gex") return this.serverGroupRequest(r);
    return this.serverInit(type, r);
  }

  private clientGroup(r: SshReader): void {
    const p = r.mpintUnsigned(1025, "DH prime");
    const g = r.mpintUnsigned(1025, "DH generator");
    r.done("KEX_DH_GEX_GROUP");
    const group: DhGroup = { p, g, bits: p.length * 8 };
    const req = this.gexRequest!;
    if (group.bits < req.min || group.bits > req.max) {
      throw new SshError(
        "KEX_FAILED",
        `DH_GEX group out of range: ${req.min} !< ${group.bits} !< ${req.max}`,
      );
    }
    this.env.log("debug1", `SSH2_MSG_KEX_DH_GEX_GROUP received`);
    this.gex = { ...req, group };
    this.client = (this.kex as GroupExchangeKex).createClientForGroup(group);
    this.sendValue(Msg.KEX_DH_GEX_INIT, this.client.publicValue);
    this.env.log("debug1", "expecting SSH2_MSG_KEX_DH_GEX_REPLY");
    this.expect = Msg.KEX_DH_GEX_REPLY;
  }

  private async clientReply(type: number, r: SshReader): Promise<void> {
    const hostKeyBlob = r.string(16 * 1024, "host key");
    const serverValue = this.readValue(r, "server public value");
    const signature = r.string(16 * 1024, "signature");
    r.done(NAMES[type] ?? "KEX reply");
    this.env.log("debug1", `${NAMES[type]} received`);
    const neg = this.negotiated!;
    const hostKey = PublicKey.fromBlob(hostKeyBlob);
    const sigAlg = signatureAlgorithm(neg.hostKey);
    if (!sigAlg || sigAlg.keyType !== hostKey.type) {
      throw new SshError("HOST_KEY", `server host key type ${hostKey.type} does not match ${neg.hostKey}`);
    }
    this.env.log("debug1", `Server host key: ${hostKey.type} ${hostKey.fingerprintSha256()}`);
    const secret = this.client!.computeSecret(serverValue);
    const h = this.exchangeHash(hostKeyBlob, this.client!.publicValue, serverValue, secret);
    if (!hostKey.verify(h, signature, [neg.hostKey])) {
      throw new SshError("HOST_KEY", "incorrect signature on the key exchange hash");
    }
    if (this.env.previousHostKey) {
      if (!this.env.previousHostKey.equals(hostKey)) {
        throw new SshError("HOST_KEY", "server host key changed during re-key");
      }
    } else {
      const verify = this.env.verifyHostKey;
      if (!verify) throw new SshError("HOST_KEY", "no host key verifier: refusing to trust the server");
      const ok = await verify(hostKey, { algorithm: neg.hostKey, rekey: !this.initial });
      if (!ok) throw new SshError("HOST_KEY", "Host key verification failed.");
    }
    this.finish(h, secret, hostKey);
  }

  private serverGroupRequest(r: SshReader): void {
    const min = r.uint32();
    const n = r.uint32();
    const max = r.uint32();
    r.done("KEX_DH_GEX_REQUEST");
    this.env.log("debug1", `SSH2_MSG_KEX_DH_GEX_REQUEST received`);
    if (max < min || n < min || max < n || max < GEX_MIN_BITS) {
      throw new SshError("KEX_FAILED", `peer requested invalid group bounds ${min}<${n}<${max}`);
    }
    const group = (this.kex as GroupExchangeKex).chooseGroup(min, n, max);
    if (!group) throw new SshError("KEX_FAILED", `no group of ${min}..${max} bits available`);
    this.gex = { min, n, max, group };
    this.env.send(
      Buffer.from(new SshWriter().byte(Msg.KEX_DH_GEX_GROUP).mpint(group.p).mpint(group.g).toBuffer()),
    );
    this.env.log("debug1", "SSH2_MSG_KEX_DH_GEX_GROUP sent");
    this.server = (this.kex as GroupExchangeKex).createServerForGroup(group);
    this.expect = Msg.KEX_DH_GEX_INIT;
  }

  private async serverInit(type: number, r: SshReader): Promise<void> {
    const clientValue = this.readValue(r, "client public value");
    r.done(NAMES[type] ?? "KEX init");
    this.env.log("debug1", `${NAMES[type]} received`);
    const neg = this.negotiated!;
    const signer = this.env.hostKeys.find(
      (k) => signatureAlgorithm(neg.hostKey)?.keyType === k.publicKey.type,
    );
    if (!signer) throw new SshError("KEX_FAILED", `no host key for ${neg.hostKey}`);
    const side = this.server ?? this.kex!.createServer!();
    const { publicValue, secret } = side.respond(clientValue);
    const h = this.exchangeHash(signer.publicKey.blob, clientValue, publicValue, secret);
    const signature = await signer.sign(h, neg.hostKey);
    const replyType = type === Msg.KEX_DH_GEX_INIT ? Msg.KEX_DH_GEX_REPLY : Msg.KEX_ECDH_REPLY;
    const w = new SshWriter(publicValue.length + signature.length + 1024)
      .byte(replyType)
      .string(signer.publicKey.blob);
    if (this.kex!.publicEncoding === "mpint") w.mpint(publicValue);
    else w.string(publicValue);
    w.string(signature);
    this.env.send(Buffer.from(w.toBuffer()));
    this.env.log("debug1", `${NAMES[replyType]} sent`);
    this.finish(h, secret, signer.publicKey);
  }

  private exchangeHash(
    hostKeyBlob: Buffer,
    clientValue: Buffer,
    serverValue: Buffer,
    secret: Buffer,
  ): Buffer {
    const kex = this.kex!;
    const [ic, is] =
      this.env.role === "client" ? [this.ourInit, this.peerInitRaw!] : [this.peerInitRaw!, this.ourInit];
    const w = new SshWriter(4096)
      .string(this.env.clientVersion)
      .string(this.env.serverVersion)
      .string(ic)
      .string(is)
      .string(hostKeyBlob);
    if (this.gex) {
      w.uint32(this.gex.min)
        .uint32(this.gex.n)
        .uint32(this.gex.max)
        .mpint(this.gex.group.p)
        .mpint(this.gex.group.g);
    }
    if (kex.publicEncoding === "mpint") w.mpint(clientValue).mpint(serverValue);
    else w.string(clientValue).string(serverValue);
    w.raw(secret);
    return createHash(kex.hash).update(w.toBuffer()).digest();
  }

  private finish(exchangeHash: Buffer, encodedSecret: Buffer, hostKey: PublicKey): void {
    const peer = this.peerInit!;
    this.outcome = {
      negotiated: this.negotiated!,
      kex: this.kex!,
      exchangeHash,
      encodedSecret,
      hostKey,
      peerWantsExtInfo:
        this.initial &&
        (this.env.role === "client" ? peer.kex.includes(EXT_INFO_S) : peer.kex.includes(EXT_INFO_C)),
    };
  }

  /** Strict KEX as soon as both KEXINITs are known (needed before the method completes, for the policy). */
  get strictNegotiated(): boolean {
    if (!this.initial || !this.peerInit) return false;
    return this.env.role === "client"
      ? this.peerInit.kex.includes(STRICT_KEX_S)
      : this.peerInit.kex.includes(STRICT_KEX_C);
  }
}
