/**
 * The SSH agent protocol's messages (draft-miller-ssh-agent; section numbers below are those of
 * draft-miller-ssh-agent-04, which OpenSSH's PROTOCOL.agent points to): message numbers, the length-prefixed
 * framing, and the encoders and decoders of the requests a client sends and the answers it reads. Shared by
 * the client and, later, the agent server and forwarding, so nothing here does I/O.
 *
 *   Framing (§3):   uint32 message length   byte message type   byte[message length - 1] contents
 */
import { SshError, SshReader, SshWriter } from "../wire/index.js";
import { writePrivateFields, type PrivateKey } from "../keys/index.js";

/** Message numbers, §5.1. */
export const AgentMsg = {
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  ADD_IDENTITY: 17,
  REMOVE_IDENTITY: 18,
  REMOVE_ALL_IDENTITIES: 19,
  ADD_SMARTCARD_KEY: 20,
  REMOVE_SMARTCARD_KEY: 21,
  LOCK: 22,
  UNLOCK: 23,
  ADD_ID_CONSTRAINED: 25,
  ADD_SMARTCARD_KEY_CONSTRAINED: 26,
  EXTENSION: 27,
  EXTENSION_FAILURE: 28,
  EXTENSION_RESPONSE: 29,
} as const;

/**
 * Failure codes other agents send: SSH2_AGENT_FAILURE (30) and ssh.com's SSH_COM_AGENT2_FAILURE (102).
 * OpenSSH's client (authfd.c, agent_failed) takes them, with SSH_AGENT_FAILURE and EXTENSION_FAILURE, as
 * a refusal.
 */
const LEGACY_FAILURES: readonly number[] = [30, 102];

/** Key constraint identifiers, §5.2 (their encodings, §4.2.6). */
export const AgentConstraint = {
  LIFETIME: 1,
  CONFIRM: 2,
  EXTENSION: 255,
} as const;

/** Signature flags, §5.3 (§4.5.1): ask for an rsa-sha2-* signature from an "ssh-rsa" key. */
export const AgentSignFlag = {
  RSA_SHA2_256: 2,
  RSA_SHA2_512: 4,
} as const;

/** The largest message accepted, as OpenSSH's AGENT_MAX_LEN / MAX_AGENT_REPLY_LEN (256 KiB). */
export const AGENT_MAX_LEN = 256 * 1024;

/** One message off the wire: its type byte and the contents after it (a view, not a copy). */
export interface AgentFrame {
  readonly type: number;
  readonly payload: Buffer;
}

/** Is this reply a refusal (SSH_AGENT_FAILURE, §4.1, or one of the other failure codes agents send)? */
export function isAgentFailure(type: number): boolean {
  return type === AgentMsg.FAILURE || type === AgentMsg.EXTENSION_FAILURE || LEGACY_FAILURES.includes(type);
}

/** A whole message, §3: uint32 length, byte type, contents. */
export function encodeAgentFrame(type: number, contents?: Uint8Array): Buffer {
  const len = 1 + (contents?.length ?? 0);
  if (len > AGENT_MAX_LEN) {
    throw new SshError(
      "AGENT",
      `agent request of ${len} bytes exceeds the protocol limit of ${AGENT_MAX_LEN} bytes`,
    );
  }
  const frame = Buffer.allocUnsafe(4 + len);
  frame.writeUInt32BE(len, 0);
  frame[4] = type;
  if (contents) frame.set(contents, 5);
  return frame;
}

/**
 * Splits a byte stream into messages (§3). The declared length is checked against the maximum as soon as
 * its four bytes are in, so an oversized or empty message fails before any of its body is buffered.
 */
export class AgentFrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The body length of the message being read, or -1 while its length field is still to come. */
  private need = -1;

  constructor(private readonly maxLength = AGENT_MAX_LEN) {}

  /** Bytes received but not yet part of a returned message. */
  get pending(): number {
    return this.buffered + (this.need >= 0 ? 4 : 0);
  }

  /** Feed received bytes; returns the messages they complete. SshError("AGENT") for a bad length. */
  push(chunk: Buffer): AgentFrame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: AgentFrame[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const len = this.take(4).readUInt32BE(0);
        if (len === 0) throw new SshError("AGENT", "the agent sent an empty message (length 0)");
        if (len > this.maxLength) {
          throw new SshError(
            "AGENT",
            `the agent sent a message of ${len} bytes, over the limit of ${this.maxLength} bytes`,
          );
        }
        this.need = len;
      }
      if (this.buffered < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      frames.push({ type: body[0]!, payload: body.subarray(1) });
    }
    return frames;
  }

  /** The first n buffered bytes (n <= buffered), removed from the buffer. */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
    } else {
      const all = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [all];
      out = all.subarray(0, n);
    }
    const head = this.chunks[0]!;
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }
}

/** Run a decoder, turning the reader's MALFORMED (short, oversized or trailing fields) into AGENT. */
function decoding<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SshError && err.code === "MALFORMED") {
      throw new SshError("AGENT", `malformed ${what} from the agent: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

// --- Requests a client sends ---

/** SSH_AGENTC_REQUEST_IDENTITIES, §4.4. */
export function encodeRequestIdentities(): Buffer {
  return encodeAgentFrame(AgentMsg.REQUEST_IDENTITIES);
}

/** The §4.5.1 flags that ask for `algorithm`: rsa-sha2-256/512 have one; every other algorithm has none. */
export function signFlagsFor(algorithm: string): number {
  if (algorithm === "rsa-sha2-256") return AgentSignFlag.RSA_SHA2_256;
  if (algorithm === "rsa-sha2-512") return AgentSignFlag.RSA_SHA2_512;
  return 0;
}

/** SSH_AGENTC_SIGN_REQUEST, §4.5: string key blob, string data, uint32 flags. */
export function encodeSignRequest(keyBlob: Buffer, data: Buffer, flags: number): Buffer {
  const w = new SshWriter(keyBlob.length + data.length + 16).string(keyBlob).string(data).uint32(flags);
  return encodeAgentFrame(AgentMsg.SIGN_REQUEST, w.toBuffer());
}

export interface AgentKeyConstraints {
  /** Seconds after which the agent forgets the key (SSH_AGENT_CONSTRAIN_LIFETIME, `ssh-add -t`). */
  lifetime?: number;
  /** Ask the user to confirm each use of the key (SSH_AGENT_CONSTRAIN_CONFIRM, `ssh-add -c`). */
  confirm?: boolean;
}

/**
 * SSH_AGENTC_ADD_IDENTITY (§4.2), or SSH_AGENTC_ADD_ID_CONSTRAINED with the §4.2.6 constraints when any is
 * given: the key fields, string comment, then per constraint byte type [uint32 seconds].
 * The returned frame holds the private key: wipe it (fill(0)) once sent.
 */
export function encodeAddIdentity(
  key: PrivateKey,
  comment: string,
  constraints: AgentKeyConstraints = {},
): Buffer {
  const w = new SshWriter(4096);
  writePrivateFields(w, key);
  w.string(comment);
  let constrained = false;
  if (constraints.lifetime !== undefined) {
    const t = constraints.lifetime;
    if (!Number.isInteger(t) || t < 1 || t > 0xffffffff) {
      throw new SshError("CONFIG", `agent key lifetime must be a whole number of seconds from 1, not ${t}`);
    }
    w.byte(AgentConstraint.LIFETIME).uint32(t);
    constrained = true;
  }
  if (constraints.confirm) {
    w.byte(AgentConstraint.CONFIRM);
    constrained = true;
  }
  const body = w.toBuffer();
  const frame = encodeAgentFrame(constrained ? AgentMsg.ADD_ID_CONSTRAINED : AgentMsg.ADD_IDENTITY, body);
  body.fill(0);
  return frame;
}

/** SSH_AGENTC_REMOVE_IDENTITY, §4.3: string key blob. */
export function encodeRemoveIdentity(keyBlob: Buffer): Buffer {
  return encodeAgentFrame(AgentMsg.REMOVE_IDENTITY, new SshWriter().string(keyBlob).toBuffer());
}

/** SSH_AGENTC_REMOVE_ALL_IDENTITIES, §4.3. */
export function encodeRemoveAllIdentities(): Buffer {
  return encodeAgentFrame(AgentMsg.REMOVE_ALL_IDENTITIES);
}

/**
 * SSH_AGENTC_LOCK / SSH_AGENTC_UNLOCK, §4.6: string passphrase. The frame holds the passphrase: wipe it
 * once sent.
 */
export function encodeLock(lock: boolean, passphrase: string | Buffer): Buffer {
  const w = new SshWriter().string(
    typeof passphrase === "string" ? Buffer.from(passphrase, "utf8") : passphrase,
  );
  const body = w.toBuffer();
  const frame = encodeAgentFrame(lock ? AgentMsg.LOCK : AgentMsg.UNLOCK, body);
  body.fill(0);
  return frame;
}

// --- Answers a client reads ---

/** One entry of SSH_AGENT_IDENTITIES_ANSWER: the public key blob, undecoded, and its comment. */
export interface AgentIdentityEntry {
  readonly keyBlob: Buffer;
  readonly comment: string;
}

/**
 * SSH_AGENT_IDENTITIES_ANSWER, §4.4: uint32 nkeys, then nkeys × (string key blob, string comment).
 * The count is checked against the bytes present (each entry takes at least 8), so a huge nkeys costs
 * nothing. Comments are UTF-8 by the draft; invalid bytes become U+FFFD rather than failing the list.
 */
export function decodeIdentitiesAnswer(payload: Buffer): AgentIdentityEntry[] {
  return decoding("identities answer", () => {
    const r = new SshReader(payload);
    const n = r.uint32();
    if (n > r.remaining / 8) {
      throw new SshError("MALFORMED", `${n} keys announced in ${r.remaining} bytes`);
    }
    const entries: AgentIdentityEntry[] = [];
    for (let i = 0; i < n; i++) {
      const keyBlob = Buffer.from(r.string(AGENT_MAX_LEN, "key blob"));
      const comment = r.string(AGENT_MAX_LEN, "comment").toString("utf8");
      entries.push({ keyBlob, comment });
    }
    r.done("identities answer");
    return entries;
  });
}

/** SSH_AGENT_SIGN_RESPONSE, §4.5: string signature (the SSH signature blob: string algorithm, string sig). */
export function decodeSignResponse(payload: Buffer): Buffer {
  return decoding("sign response", () => {
    const r = new SshReader(payload);
    const signature = Buffer.from(r.string(AGENT_MAX_LEN, "signature"));
    r.done("sign response");
    return signature;
  });
}
