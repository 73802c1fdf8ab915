/**
 * The interfaces behind which every negotiable algorithm lives (RFC 4253 §6, §7). The transport knows
 * only these; each algorithm is a small object implementing one of them.
 */

export type HashName = "sha1" | "sha256" | "sha384" | "sha512";

/** A cipher as negotiated in KEXINIT (RFC 4253 §6.3). */
export interface CipherAlgorithm {
  readonly name: string;
  readonly keyLength: number;
  readonly ivLength: number;
  /** Block size for padding purposes (8 for stream-like ciphers such as chacha20, per PROTOCOL.chacha20poly1305). */
  readonly blockSize: number;
  /** AEAD ciphers authenticate packets themselves: no MAC is used with them and the MAC name is ignored. */
  readonly aead: boolean;
  /** Offered only when a configuration names it (CBC, 3DES). */
  readonly weak: boolean;
}

/** A MAC as negotiated in KEXINIT (RFC 4253 §6.4; OpenSSH PROTOCOL §1.5 for -etm). */
export interface MacAlgorithm {
  readonly name: string;
  readonly keyLength: number;
  readonly digestLength: number;
  /** encrypt-then-MAC: the length stays in clear and the MAC covers the ciphertext. */
  readonly etm: boolean;
  readonly weak: boolean;
}

/**
 * A direction's keys and where its cipher stands: enough to go on with it in another process (nsshd hands an
 * authenticated connection to a process that runs as the user). `iv` is the IV the next packet continues
 * from (the advanced counter for CTR and GCM, the last ciphertext block for CBC). Secret: never log it.
 */
export interface ProtectionState {
  readonly cipher: string;
  readonly mac: string | null;
  readonly key: Buffer;
  readonly iv: Buffer;
  readonly macKey: Buffer | null;
}

/**
 * Protects outgoing packets of one direction: cipher and MAC (or AEAD) together, as the four packet
 * layouts (AEAD with clear length, chacha20-poly1305, encrypt-then-MAC, encrypt-and-MAC) differ in
 * what is encrypted and what is authenticated.
 */
export interface PacketSealer {
  /** Bytes appended after the encrypted packet (MAC or AEAD tag). */
  readonly macLength: number;
  /** Block size the packet must be padded to. */
  readonly blockSize: number;
  /** True when packet_length is sent unencrypted, so padding aligns only padding_length..padding. */
  readonly lengthExcludedFromPadding: boolean;
  /**
   * `packet` holds uint32 packet_length || byte padding_length || payload || padding, and is followed in
   * the same underlying memory by nothing we care about. Returns the bytes to put on the wire
   * (packet.length + macLength), in memory of their own unless `returnsInput` says otherwise: the
   * caller may reuse `packet` as soon as seal() returns.
   */
  seal(seq: number, packet: Buffer): Buffer;
  /**
   * seal() of a packet given in pieces, the first starting with packet_length (the AEAD and
   * encrypt-then-MAC sealers): encrypted where they lie, without first copying them into one buffer, and
   * returned in pieces to be written in order (spares joining them).
   */
  sealPieces?(seq: number, pieces: readonly Buffer[]): Buffer[];
  /** True when seal() returns `packet` itself (no protection: before the first NEWKEYS). */
  readonly returnsInput?: boolean;
  /** The state to continue this direction elsewhere (absent before the first NEWKEYS). */
  exportState?(): ProtectionState;
}

/** Removes the protection of incoming packets of one direction. */
export interface PacketOpener {
  readonly macLength: number;
  readonly blockSize: number;
  /** Bytes needed before packetLength() can be called (4, or a whole cipher block for encrypt-and-MAC). */
  readonly lengthFieldBytes: number;
  /**
   * The packet_length field, from the first lengthFieldBytes bytes (decrypting them if needed). Throws
   * SshError for a length under 5, over MAX_PACKET_LENGTH or off the block size: the caller allocates
   * nothing before this answers.
   */
  packetLength(seq: number, first: Buffer): number;
  /**
   * Verify and decrypt a whole packet as received (4 + packet_length + macLength bytes). Returns the
   * plaintext packet (4 + packet_length bytes: length, padding_length, payload, padding). Throws
   * SshError("MAC") when authentication fails and SshError("BAD_PADDING") for a padding_length under 4
   * or past the packet.
   */
  open(seq: number, wire: Buffer): Buffer;
  /**
   * The same, returning the packet without its length field (padding_length, payload, padding), where
   * that spares copying the plaintext back over `wire`.
   */
  openBody?(seq: number, wire: Buffer): Buffer;
  /**
   * The state to continue this direction elsewhere, as of the last packet open() returned: a packet whose
   * length was read but which was not opened yet is left to the new owner, with its bytes still unread.
   */
  exportState?(): ProtectionState;
}

/** A compression method (RFC 4253 §6.2; zlib@openssh.com starts only after authentication). */
export interface CompressionAlgorithm {
  readonly name: string;
  /** zlib@openssh.com: compression starts after USERAUTH_SUCCESS rather than after NEWKEYS. */
  readonly delayed: boolean;
  createCompressor(): PayloadCompressor | null;
  createDecompressor(maxOutput: number): PayloadDecompressor | null;
}

export interface PayloadCompressor {
  compress(payload: Buffer): Buffer;
  close(): void;
}

export interface PayloadDecompressor {
  /** Throws SshError("COMPRESSION") on corrupt data or output beyond the bound given at creation. */
  decompress(payload: Buffer): Buffer;
  close(): void;
}

/** How the public values and shared secret of a key exchange are encoded in messages and the exchange hash. */
export type KexValueEncoding = "mpint" | "string";

/**
 * A key-exchange method (RFC 4253 §8, RFC 5656 §4, RFC 8731, RFC 4419, draft-ietf-sshm-mlkem-hybrid-kex).
 * "single" methods are one round trip: client public value, server public value.
 * "gex" (RFC 4419) first agrees on a group, then runs a single round trip in it.
 */
export interface KexAlgorithm {
  readonly name: string;
  readonly hash: HashName;
  readonly weak: boolean;
  readonly kind: "single" | "gex";
  /** Encoding of Q_C/Q_S (e/f) in the INIT/REPLY messages and the exchange hash. */
  readonly publicEncoding: KexValueEncoding;
  /** Encoding of the shared secret K in the exchange hash and key derivation. */
  readonly secretEncoding: KexValueEncoding;
  /** For "single" methods. For "gex" use the group variants on GroupExchangeKex. */
  createClient?(): KexClientSide;
  createServer?(): KexServerSide;
}

export interface KexClientSide {
  /** The client's public value as it goes in the INIT message (raw bytes; mpint magnitude for DH). */
  readonly publicValue: Buffer;
  /** Check the server's value and compute K, already encoded (mpint or string) for the hash. */
  computeSecret(serverPublic: Buffer): Buffer;
}

export interface KexServerSide {
  /** Check the client's value; produce the server's public value and K, already encoded for the hash. */
  respond(clientPublic: Buffer): { publicValue: Buffer; secret: Buffer };
}

export interface DhGroup {
  readonly p: Buffer; // big-endian magnitude
  readonly g: Buffer;
  readonly bits: number;
}

export interface GroupExchangeKex extends KexAlgorithm {
  readonly kind: "gex";
  /** Server side: pick a group for the client's (min, n, max) request, or null if none fits. */
  chooseGroup(min: number, preferred: number, max: number): DhGroup | null;
  createClientForGroup(group: DhGroup): KexClientSide;
  createServerForGroup(group: DhGroup): KexServerSide;
}
