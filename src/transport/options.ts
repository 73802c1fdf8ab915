/** Options of a transport, and their resolution into the lists we put in KEXINIT. */
import type { Duplex } from "node:stream";
import {
  CIPHERS,
  COMPRESSIONS,
  DEFAULT_CIPHERS,
  DEFAULT_CLIENT_COMPRESSION,
  DEFAULT_HOST_KEY_ALGORITHMS,
  DEFAULT_KEX,
  DEFAULT_MACS,
  DEFAULT_SERVER_COMPRESSION,
  KEX_ALGORITHMS,
  MACS,
  resolveAlgorithmList,
} from "../crypto/index.js";
import { SIGNATURE_ALGORITHMS } from "../keys/index.js";
import { SshError } from "../wire/index.js";
import type { HostKeySigner, HostKeyVerifier } from "./hostKeys.js";
import type { Role } from "./messagePolicy.js";

export type LogLevel = "error" | "info" | "verbose" | "debug1" | "debug2" | "debug3";
/**
 * A log sink. `cause`: the error a line reports, when it reports the transport's own failure, so that an
 * owner can word or level it by its type (a NegotiationError, say) rather than by its text.
 */
export type TransportLogger = (level: LogLevel, message: string, cause?: SshError) => void;

/** An algorithm list: a plain list, or an ssh_config style string with a +, - or ^ modifier. */
export type AlgorithmListSpec = string | readonly string[];

export interface TransportOptions {
  role: Role;
  socket: Duplex;
  /** softwareversion in our identification string, RFC 4253 §4.2. */
  softwareVersion?: string;
  kex?: AlgorithmListSpec;
  hostKeyAlgorithms?: AlgorithmListSpec;
  ciphers?: AlgorithmListSpec;
  macs?: AlgorithmListSpec;
  compression?: AlgorithmListSpec;
  /** Server: the keys it proves its identity with. */
  hostKeys?: readonly HostKeySigner[];
  /** Client: decides whether to trust the server's key. Required for a client. */
  verifyHostKey?: HostKeyVerifier;
  /** Re-key after this many bytes in either direction (default: by cipher block size, as OpenSSH) or seconds. */
  rekeyLimit?: { bytes?: number; seconds?: number };
  /** Refuse a peer that does not offer strict KEX. */
  requireStrictKex?: boolean;
  /** Server: services a client may request (default ssh-userauth). */
  services?: readonly string[];
  /** Server: the signature algorithms announced in server-sig-algs (default: those accepted for user keys). */
  serverSigAlgs?: readonly string[];
  log?: TransportLogger;
}

export interface ResolvedLists {
  kex: string[];
  hostKey: string[];
  cipher: string[];
  mac: string[];
  compression: string[];
}

/**
 * Resolved lists by what they are resolved from. Every Transport gets a fresh options object (callers spread
 * their own options into it), so a cache keyed by the object would never hit: the key is the lists' inputs
 * themselves, which are few per process (one per server or client configuration), so the cache is small.
 */
const resolvedCache = new Map<string, ResolvedLists>();
const RESOLVED_CACHE_LIMIT = 64;

/**
 * The algorithm lists we offer in KEXINIT (RFC 4253 §7.1) for these options; throws SshError("CONFIG") for
 * a bad list. The result is shared between calls with the same inputs and frozen: callers only read it.
 */
export function resolveLists(o: TransportOptions): ResolvedLists {
  const keyTypes = o.role === "server" ? (o.hostKeys ?? []).map((k) => k.publicKey.type) : null;
  const key = JSON.stringify([
    o.role,
    o.kex,
    o.hostKeyAlgorithms,
    o.ciphers,
    o.macs,
    o.compression,
    keyTypes,
  ]);
  let lists = resolvedCache.get(key);
  if (!lists) {
    lists = computeLists(o, keyTypes);
    if (resolvedCache.size >= RESOLVED_CACHE_LIMIT) resolvedCache.clear();
    resolvedCache.set(key, lists);
  }
  if (o.role !== "server" && !o.verifyHostKey) {
    throw new SshError("CONFIG", "a client transport needs verifyHostKey: there is no silent trust");
  }
  return lists;
}

function computeLists(o: TransportOptions, keyTypes: readonly string[] | null): ResolvedLists {
  const names = <T extends { name: string }>(xs: readonly T[]): string[] => xs.map((x) => x.name);
  const lists: ResolvedLists = {
    kex: resolveAlgorithmList(o.kex, DEFAULT_KEX, names(KEX_ALGORITHMS), "key exchange algorithm"),
    hostKey: resolveAlgorithmList(
      o.hostKeyAlgorithms,
      DEFAULT_HOST_KEY_ALGORITHMS,
      names(SIGNATURE_ALGORITHMS),
      "host key algorithm",
    ),
    cipher: resolveAlgorithmList(o.ciphers, DEFAULT_CIPHERS, names(CIPHERS), "cipher"),
    mac: resolveAlgorithmList(o.macs, DEFAULT_MACS, names(MACS), "MAC"),
    compression: resolveAlgorithmList(
      o.compression,
      o.role === "server" ? DEFAULT_SERVER_COMPRESSION : DEFAULT_CLIENT_COMPRESSION,
      names(COMPRESSIONS),
      "compression",
    ),
  };
  if (keyTypes) {
    // A server offers only the signature algorithms it holds a key for.
    const types = new Set(keyTypes);
    lists.hostKey = lists.hostKey.filter((a) => {
      const alg = SIGNATURE_ALGORITHMS.find((s) => s.name === a);
      return alg !== undefined && types.has(alg.keyType);
    });
    if (lists.hostKey.length === 0)
      throw new SshError("CONFIG", "no host key for any allowed host key algorithm");
  }
  for (const list of Object.values(lists)) Object.freeze(list);
  return Object.freeze(lists);
}

/**
 * OpenSSH's default re-key volume (packet.c ssh_packet_set_rekey_limits): 2^(2*blocksize) blocks for
 * 16-byte block ciphers, 1 GiB for smaller blocks; a configured limit lowers it.
 */
export function rekeyByteLimit(blockSize: number, configured: number | undefined): number {
  const byCipher = blockSize >= 16 ? 2 ** (blockSize * 2) * blockSize : 2 ** 30;
  return configured && configured > 0 ? Math.min(byCipher, configured) : byCipher;
}

/** OpenSSH re-keys before 2^31 packets so sequence numbers never wrap under one key. */
export const REKEY_PACKET_LIMIT = 2 ** 31;
