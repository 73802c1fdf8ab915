/**
 * Finite-field Diffie-Hellman: the fixed groups (RFC 4253 §8.1-8.2, RFC 8268) and group exchange
 * (RFC 4419). e, f and K are mpints. Peer values outside [2, p-2] are refused (RFC 4253 §8).
 */
import { createDiffieHellman, getDiffieHellman, randomBytes, type DiffieHellman } from "node:crypto";
import { SshError } from "../../wire/index.js";
import type {
  DhGroup,
  GroupExchangeKex,
  HashName,
  KexAlgorithm,
  KexClientSide,
  KexServerSide,
} from "../types.js";
import { secretAsMpint } from "./encodeSecret.js";

/** The MODP groups of RFC 2409/3526 as Node ships them; SSH's group1/14/16/18 are these primes with g = 2. */
function modpGroup(nodeName: string): DhGroup {
  const dh = getDiffieHellman(nodeName);
  const p = dh.getPrime();
  return { p, g: dh.getGenerator(), bits: p.length * 8 };
}

const GROUPS = {
  group1: () => modpGroup("modp2"),
  group14: () => modpGroup("modp14"),
  group15: () => modpGroup("modp15"),
  group16: () => modpGroup("modp16"),
  group17: () => modpGroup("modp17"),
  group18: () => modpGroup("modp18"),
};

function toBigInt(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + b.toString("hex"));
}

/** Refuse 0, 1, p-1 and anything >= p: values that leak or fix the shared secret. */
function checkPeerValue(value: Buffer, group: DhGroup): void {
  const v = toBigInt(value);
  const p = toBigInt(group.p);
  if (v < 2n || v > p - 2n) {
    throw new SshError("KEX_FAILED", "Diffie-Hellman public value is out of range [2, p-2]");
  }
}

class DhSide implements KexClientSide, KexServerSide {
  private readonly dh: DiffieHellman;
  readonly publicValue: Buffer;
  constructor(private readonly group: DhGroup) {
    this.dh = createDiffieHellman(group.p, group.g);
    // A 512-bit exponent gives 256 bits of security, enough for every cipher we offer (as OpenSSH sizes it),
    // and keeps 8192-bit groups fast; a full-size exponent would cost ~10x.
    this.dh.setPrivateKey(randomBytes(Math.min(64, group.p.length - 1)));
    this.publicValue = this.dh.generateKeys();
  }
  computeSecret(peer: Buffer): Buffer {
    checkPeerValue(peer, this.group);
    return secretAsMpint(this.dh.computeSecret(peer));
  }
  respond(clientPublic: Buffer): { publicValue: Buffer; secret: Buffer } {
    return { publicValue: this.publicValue, secret: this.computeSecret(clientPublic) };
  }
}

/**
 * DH in a group the server chose (RFC 4419). Node's createDiffieHellman would run OpenSSL's DH_check on an
 * unknown prime, a primality test that takes ~30 s for 8192 bits, so the arithmetic is done here with a
 * Montgomery ladder over BigInt: the same operations for every exponent bit, and ~100 ms for 8192 bits.
 */
class ServerGroupDhSide implements KexClientSide {
  private readonly p: bigint;
  private readonly x: bigint;
  readonly publicValue: Buffer;
  constructor(private readonly group: DhGroup) {
    this.p = toBigInt(group.p);
    this.x = toBigInt(randomBytes(64)) | (1n << 511n);
    this.publicValue = toBuffer(modPow(toBigInt(group.g), this.x, this.p));
  }
  computeSecret(peer: Buffer): Buffer {
    checkPeerValue(peer, this.group);
    return secretAsMpint(toBuffer(modPow(toBigInt(peer), this.x, this.p)));
  }
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let r0 = 1n;
  let r1 = base % modulus;
  for (let i = BigInt(exponent.toString(2).length - 1); i >= 0n; i--) {
    if ((exponent >> i) & 1n) {
      r0 = (r0 * r1) % modulus;
      r1 = (r1 * r1) % modulus;
    } else {
      r1 = (r0 * r1) % modulus;
      r0 = (r0 * r0) % modulus;
    }
  }
  return r0;
}

function toBuffer(v: bigint): Buffer {
  const hex = v.toString(16);
  return Buffer.from(hex.length % 2 ? "0" + hex : hex, "hex");
}

export function fixedGroupKex(
  name: string,
  group: keyof typeof GROUPS,
  hash: HashName,
  weak: boolean,
): KexAlgorithm {
  let cached: DhGroup | undefined;
  const g = (): DhGroup => (cached ??= GROUPS[group]());
  return {
    name,
    hash,
    weak,
    kind: "single",
    publicEncoding: "mpint",
    secretEncoding: "mpint",
    createClient: () => new DhSide(g()),
    createServer: () => new DhSide(g()),
  };
}

/** Bounds OpenSSH applies to group exchange requests (dh.h: DH_GRP_MIN 2048, DH_GRP_MAX 8192). */
export const GEX_MIN_BITS = 2048;
export const GEX_MAX_BITS = 8192;

export function groupExchangeKex(name: string, hash: HashName, weak: boolean): GroupExchangeKex {
  let pool: DhGroup[] | undefined;
  return {
    name,
    hash,
    weak,
    kind: "gex",
    publicEncoding: "mpint",
    secretEncoding: "mpint",
    chooseGroup(min, preferred, max) {
      pool ??= [GROUPS.group14(), GROUPS.group15(), GROUPS.group16(), GROUPS.group17(), GROUPS.group18()];
      const lo = Math.max(min, GEX_MIN_BITS);
      const hi = Math.min(max, GEX_MAX_BITS);
      const fitting = pool.filter((g) => g.bits >= lo && g.bits <= hi);
      if (fitting.length === 0) return null;
      // The smallest group at least as large as preferred; otherwise the largest that fits (as sshd does).
      return fitting.find((g) => g.bits >= preferred) ?? fitting[fitting.length - 1]!;
    },
    createClientForGroup: (group) => {
      if (group.bits < GEX_MIN_BITS || group.bits > GEX_MAX_BITS) {
        throw new SshError("KEX_FAILED", `server offered a ${group.bits}-bit group, outside [2048, 8192]`);
      }
      if (toBigInt(group.g) < 2n || toBigInt(group.g) > toBigInt(group.p) - 2n) {
        throw new SshError("KEX_FAILED", "server offered an invalid group generator");
      }
      return new ServerGroupDhSide(group);
    },
    createServerForGroup: (group) => new DhSide(group),
  };
}
