/**
 * Post-quantum hybrid key exchanges: a KEM combined with X25519, K = HASH(kem_secret || x25519_secret)
 * encoded as a string. mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex) and
 * sntrup761x25519-sha512 (draft-josefsson-ntruprime-ssh; OpenSSH's sntrup761x25519-sha512@openssh.com).
 * Q_C = kem_public_key || x25519_public; Q_S = kem_ciphertext || x25519_public.
 */
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { SshError } from "../../wire/index.js";
import {
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_PUBLIC_KEY_BYTES,
  mlkem768Decapsulate,
  mlkem768Encapsulate,
  mlkem768KeyPair,
} from "../mlkem768.js";
import type * as Sntrup761Module from "../sntrup761.js";
import type { HashName, KexAlgorithm, KexClientSide, KexServerSide } from "../types.js";
import { secretAsString } from "./encodeSecret.js";
import { X25519KeyPair } from "./x25519.js";

/*
 * sntrup761 loads when an exchange first uses it, not when the crypto layer is imported: every KEX name
 * is offered in KEXINIT, but a connection negotiates one method, and loading it costs a program (nssh
 * runs one connection) milliseconds of start-up. The exchange is synchronous, so it loads with
 * require(), which takes ES modules in Node >= 20.19. Where that is switched off
 * (--no-experimental-require-module), it loads here, before this module is done loading. ML-KEM-768's
 * module is small and compiles its WebAssembly on first use itself.
 */
const requireModule = createRequire(import.meta.url);
let sntrup761Module: typeof Sntrup761Module | undefined;
// bundle: esm-only start (the commands' CommonJS bundles run only where require() takes ES modules)
if ((process.features as { require_module?: boolean }).require_module !== true) {
  sntrup761Module = await import("../sntrup761.js");
}
// bundle: esm-only end

function sntrup761(): typeof Sntrup761Module {
  return (sntrup761Module ??= requireModule("../sntrup761.js") as typeof Sntrup761Module);
}

/** The KEM half of a hybrid. */
export interface Kem {
  readonly publicKeyBytes: number;
  readonly ciphertextBytes: number;
  keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

/** Where a KEM draws its randomness: n bytes per call. Only tests pass anything but the default. */
export type KemRandom = (n: number) => Uint8Array;

const systemRandom: KemRandom = (n) => randomBytes(n);

/** f(secret), then the secret (a seed, a message) zeroed: the KEM's result is all that is kept of it. */
function withWiped<T>(secret: Uint8Array, f: (secret: Uint8Array) => T): T {
  try {
    return f(secret);
  } finally {
    secret.fill(0);
  }
}

/**
 * ML-KEM-768 (FIPS 203): keygen draws the 64-byte seed d || z, encapsulation the 32-byte message m
 * (the ML-KEM.KeyGen_internal / Encaps_internal inputs, as in NIST's ACVP vectors).
 */
export function mlkem768Kem(random: KemRandom = systemRandom): Kem {
  return {
    publicKeyBytes: MLKEM768_PUBLIC_KEY_BYTES,
    ciphertextBytes: MLKEM768_CIPHERTEXT_BYTES,
    keyPair: () => withWiped(random(64), mlkem768KeyPair),
    encapsulate: (pk) => withWiped(random(32), (m) => mlkem768Encapsulate(pk, m)),
    decapsulate: (ct, sk) => mlkem768Decapsulate(ct, sk),
  };
}

export const MLKEM768: Kem = mlkem768Kem();

/** Sizes as in ../sntrup761.ts (SNTRUP761_PUBLIC_KEY_BYTES, SNTRUP761_CIPHERTEXT_BYTES), which loads on use. */
export const SNTRUP761: Kem = {
  publicKeyBytes: 1158,
  ciphertextBytes: 1039,
  keyPair: () => sntrup761().sntrup761KeyPair(),
  encapsulate: (pk) => sntrup761().sntrup761Encapsulate(pk),
  decapsulate: (ct, sk) => sntrup761().sntrup761Decapsulate(ct, sk),
};

/** The X25519 half of a hybrid: X25519KeyPair, or in tests a pair with a fixed private key. */
export interface HybridEcdh {
  readonly publicValue: Buffer;
  /** The raw 32-byte X25519 output; throws SshError("KEX_FAILED") on a bad or low-order peer value. */
  sharedSecret(peerPublic: Buffer): Buffer;
}

/** K = string(HASH(kem_secret || x25519_secret)), as draft-ietf-sshm-mlkem-hybrid-kex defines it. */
export function hybridSecret(hash: HashName, kemSecret: Uint8Array, ecdhSecret: Uint8Array): Buffer {
  return secretAsString(createHash(hash).update(kemSecret).update(ecdhSecret).digest());
}

class HybridClient implements KexClientSide {
  private readonly kemKeys;
  private kemKeyUsed = false;
  private readonly ecdh: HybridEcdh;
  readonly publicValue: Buffer;
  constructor(
    private readonly kem: Kem,
    private readonly hash: HashName,
    newEcdh: () => HybridEcdh,
  ) {
    this.kemKeys = kem.keyPair();
    this.ecdh = newEcdh();
    this.publicValue = Buffer.concat([this.kemKeys.publicKey, this.ecdh.publicValue]);
  }
  computeSecret(serverPublic: Buffer): Buffer {
    // One reply per exchange: the KEM secret key is wiped after it, whatever the outcome.
    if (this.kemKeyUsed)
      throw new SshError("KEX_FAILED", "hybrid KEX: the exchange's KEM key was used already");
    this.kemKeyUsed = true;
    return withWiped(this.kemKeys.secretKey, (secretKey) => {
      if (serverPublic.length !== this.kem.ciphertextBytes + 32) {
        throw new SshError(
          "KEX_FAILED",
          `hybrid KEX reply is ${serverPublic.length} bytes, not ${this.kem.ciphertextBytes + 32}`,
        );
      }
      const ecdhSecret = this.ecdh.sharedSecret(serverPublic.subarray(this.kem.ciphertextBytes));
      let kemSecret;
      try {
        kemSecret = this.kem.decapsulate(serverPublic.subarray(0, this.kem.ciphertextBytes), secretKey);
      } catch (err) {
        ecdhSecret.fill(0);
        throw err;
      }
      return combinedSecret(this.hash, kemSecret, ecdhSecret);
    });
  }
}

/** K from both halves' secrets, which are zeroed then: K is all that is kept of them. */
function combinedSecret(hash: HashName, kemSecret: Uint8Array, ecdhSecret: Buffer): Buffer {
  return withWiped(kemSecret, (kem) => withWiped(ecdhSecret, (ecdh) => hybridSecret(hash, kem, ecdh)));
}

class HybridServer implements KexServerSide {
  constructor(
    private readonly kem: Kem,
    private readonly hash: HashName,
    private readonly newEcdh: () => HybridEcdh,
  ) {}
  respond(clientPublic: Buffer): { publicValue: Buffer; secret: Buffer } {
    if (clientPublic.length !== this.kem.publicKeyBytes + 32) {
      throw new SshError(
        "KEX_FAILED",
        `hybrid KEX init is ${clientPublic.length} bytes, not ${this.kem.publicKeyBytes + 32}`,
      );
    }
    // The X25519 half first: a bad point (low order) ends the exchange before a KEM secret exists.
    const ecdh = this.newEcdh();
    const ecdhSecret = ecdh.sharedSecret(clientPublic.subarray(this.kem.publicKeyBytes));
    let encapsulated;
    try {
      encapsulated = this.kem.encapsulate(clientPublic.subarray(0, this.kem.publicKeyBytes));
    } catch (err) {
      ecdhSecret.fill(0);
      // ML-KEM's encapsulation key check (FIPS 203 §7.2) fails on a malformed key.
      throw new SshError("KEX_FAILED", "the client's KEM public key is invalid", { cause: err });
    }
    return {
      publicValue: Buffer.concat([encapsulated.ciphertext, ecdh.publicValue]),
      secret: combinedSecret(this.hash, encapsulated.sharedSecret, ecdhSecret),
    };
  }
}

/** `newEcdh` makes the X25519 key pair of each exchange; only tests replace the default. */
export function hybridKex(
  name: string,
  kem: Kem,
  hash: HashName,
  newEcdh: () => HybridEcdh = () => new X25519KeyPair(),
): KexAlgorithm {
  return {
    name,
    hash,
    weak: false,
    kind: "single",
    publicEncoding: "string",
    secretEncoding: "string",
    createClient: () => new HybridClient(kem, hash, newEcdh),
    createServer: () => new HybridServer(kem, hash, newEcdh),
  };
}
