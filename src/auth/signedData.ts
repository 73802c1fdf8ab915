/**
 * The byte layouts of user authentication (RFC 4252, RFC 4256, OpenSSH PROTOCOL §2.5): USERAUTH_REQUEST
 * for each method, the data a publickey signature covers, and the server's replies. Both sides build and
 * read them here so that what is signed and what is verified can never drift apart.
 */
import { PublicKey } from "../keys/index.js";
import { Msg, SshError, SshReader, SshWriter } from "../wire/index.js";

export const SERVICE_USERAUTH = "ssh-userauth";
export const SERVICE_CONNECTION = "ssh-connection";
export const METHOD_HOSTBOUND = "publickey-hostbound-v00@openssh.com";
/** The EXT_INFO extension announcing publickey-hostbound-v00 (OpenSSH PROTOCOL §1.9), version "0". */
export const EXT_HOSTBOUND = "publickey-hostbound@openssh.com";

/** The fields of a publickey (or publickey-hostbound-v00) request, signature aside. */
export interface PublicKeyRequestFields {
  username: string;
  service: string;
  /** "publickey" or "publickey-hostbound-v00@openssh.com". */
  method: string;
  algorithm: string;
  keyBlob: Buffer;
  /** publickey-hostbound-v00 only: the server host key the client saw in the key exchange. */
  hostKeyBlob?: Buffer;
}

const payload = (w: SshWriter): Buffer => Buffer.from(w.toBuffer());

function writePublicKeyFields(w: SshWriter, f: PublicKeyRequestFields, hasSignature: boolean): SshWriter {
  w.byte(Msg.USERAUTH_REQUEST)
    .string(f.username)
    .string(f.service)
    .string(f.method)
    .boolean(hasSignature)
    .string(f.algorithm)
    .string(f.keyBlob);
  if (f.method === METHOD_HOSTBOUND) {
    if (!f.hostKeyBlob) throw new SshError("PROTOCOL", `${METHOD_HOSTBOUND} needs the server host key`);
    w.string(f.hostKeyBlob);
  }
  return w;
}

/** What a publickey signature covers (RFC 4252 §7; OpenSSH PROTOCOL §2.5 appends the host key). */
export function publicKeySignedData(sessionId: Buffer, f: PublicKeyRequestFields): Buffer {
  return payload(writePublicKeyFields(new SshWriter().string(sessionId), f, true));
}

/** The request itself: a query (no signature, RFC 4252 §7 PK_OK) or the signed request. */
export function encodePublicKeyRequest(f: PublicKeyRequestFields, signature?: Buffer): Buffer {
  const w = writePublicKeyFields(new SshWriter(), f, signature !== undefined);
  if (signature !== undefined) w.string(signature);
  return payload(w);
}

export function encodeNoneRequest(username: string, service: string): Buffer {
  return payload(new SshWriter().byte(Msg.USERAUTH_REQUEST).string(username).string(service).string("none"));
}

/** RFC 4252 §8: a password, or (after PASSWD_CHANGEREQ) the old and the new one. */
export function encodePasswordRequest(
  username: string,
  service: string,
  password: string,
  newPassword?: string,
): Buffer {
  const w = new SshWriter()
    .byte(Msg.USERAUTH_REQUEST)
    .string(username)
    .string(service)
    .string("password")
    .boolean(newPassword !== undefined)
    .string(password);
  if (newPassword !== undefined) w.string(newPassword);
  return payload(w);
}

/** RFC 4256 §3.1: language tag (deprecated, empty) and submethods. */
export function encodeKeyboardInteractiveRequest(username: string, service: string, submethods = ""): Buffer {
  return payload(
    new SshWriter()
      .byte(Msg.USERAUTH_REQUEST)
      .string(username)
      .string(service)
      .string("keyboard-interactive")
      .string("")
      .string(submethods),
  );
}

export interface Prompt {
  prompt: string;
  echo: boolean;
}

/** Most prompts one INFO_REQUEST may carry, either way (OpenSSH's client refuses more than 256 too). */
export const MAX_PROMPTS = 256;
const MAX_TEXT = 64 * 1024;

export interface InfoRequest {
  name: string;
  instructions: string;
  prompts: Prompt[];
}

/** SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2). */
export function encodeInfoRequest(req: InfoRequest): Buffer {
  const w = new SshWriter()
    .byte(Msg.USERAUTH_INFO_REQUEST)
    .string(req.name)
    .string(req.instructions)
    .string("")
    .uint32(req.prompts.length);
  for (const p of req.prompts) w.string(p.prompt).boolean(p.echo);
  return payload(w);
}

export function parseInfoRequest(p: Buffer): InfoRequest {
  const r = new SshReader(p, 1);
  const name = r.utf8(MAX_TEXT, "info request name");
  const instructions = r.utf8(MAX_TEXT, "info request instruction");
  r.string(256, "language tag");
  const count = r.uint32();
  if (count > MAX_PROMPTS)
    throw new SshError("PROTOCOL", `keyboard-interactive: ${count} prompts is too many`);
  const prompts: Prompt[] = [];
  for (let i = 0; i < count; i++) prompts.push({ prompt: r.utf8(MAX_TEXT, "prompt"), echo: r.boolean() });
  r.done("USERAUTH_INFO_REQUEST");
  return { name, instructions, prompts };
}

/** SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256 §3.4). */
export function encodeInfoResponse(responses: readonly string[]): Buffer {
  const w = new SshWriter().byte(Msg.USERAUTH_INFO_RESPONSE).uint32(responses.length);
  for (const s of responses) w.string(s);
  return payload(w);
}

/**
 * Read an INFO_RESPONSE that must answer `expected` prompts. Any other count, a short or over-long field
 * or trailing bytes is a protocol violation that ends the connection (russh CVE-2026-42189 read past
 * the prompts it had sent).
 */
export function parseInfoResponse(p: Buffer, expected: number): string[] {
  const r = new SshReader(p, 1);
  const count = r.uint32();
  if (count !== expected) {
    throw new SshError("PROTOCOL", `keyboard-interactive: ${count} responses to ${expected} prompts`);
  }
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(r.utf8(MAX_TEXT, "response"));
  r.done("USERAUTH_INFO_RESPONSE");
  return out;
}

export function encodeFailure(methods: readonly string[], partial: boolean): Buffer {
  return payload(new SshWriter().byte(Msg.USERAUTH_FAILURE).nameList(methods).boolean(partial));
}

export function parseFailure(p: Buffer): { methods: string[]; partial: boolean } {
  const r = new SshReader(p, 1);
  const methods = r.nameList(64 * 1024, "authentications that can continue");
  const partial = r.boolean();
  r.done("USERAUTH_FAILURE");
  return { methods, partial };
}

export function encodeBanner(message: string, language = ""): Buffer {
  return payload(new SshWriter().byte(Msg.USERAUTH_BANNER).string(message).string(language));
}

export function parseBanner(p: Buffer): { message: string; language: string } {
  const r = new SshReader(p, 1);
  const message = r.utf8(MAX_TEXT, "banner");
  const language = r.ascii(256, "banner language");
  r.done("USERAUTH_BANNER");
  return { message, language };
}

export function encodePkOk(algorithm: string, keyBlob: Buffer): Buffer {
  return payload(new SshWriter().byte(Msg.USERAUTH_PK_OK).string(algorithm).string(keyBlob));
}

export function parsePkOk(p: Buffer): { algorithm: string; keyBlob: Buffer } {
  const r = new SshReader(p, 1);
  const algorithm = r.ascii(64, "PK_OK algorithm");
  const keyBlob = Buffer.from(r.string(16 * 1024, "PK_OK key"));
  r.done("USERAUTH_PK_OK");
  return { algorithm, keyBlob };
}

export function encodePasswdChangeReq(prompt: string, language = ""): Buffer {
  return payload(new SshWriter().byte(Msg.USERAUTH_PASSWD_CHANGEREQ).string(prompt).string(language));
}

export function parsePasswdChangeReq(p: Buffer): { prompt: string; language: string } {
  const r = new SshReader(p, 1);
  const prompt = r.utf8(MAX_TEXT, "password change prompt");
  const language = r.ascii(256, "language tag");
  r.done("USERAUTH_PASSWD_CHANGEREQ");
  return { prompt, language };
}

/** The common head of every USERAUTH_REQUEST; `reader` is positioned at the method-specific fields. */
export interface RequestHead {
  username: string;
  service: string;
  method: string;
  reader: SshReader;
}

export function parseRequestHead(p: Buffer): RequestHead {
  const reader = new SshReader(p, 1);
  const username = reader.utf8(256, "user name");
  const service = reader.ascii(64, "service name");
  const method = reader.ascii(64, "method name");
  return { username, service, method, reader };
}

/** A parsed publickey request (server side). A key blob that does not parse is `key: null`, a failure. */
export interface PublicKeyRequest extends PublicKeyRequestFields {
  key: PublicKey | null;
  signature: Buffer | null;
}

export function parsePublicKeyRequest(head: RequestHead): PublicKeyRequest {
  const r = head.reader;
  const hasSignature = r.boolean();
  const algorithm = r.ascii(64, "public key algorithm");
  const keyBlob = Buffer.from(r.string(16 * 1024, "public key"));
  const hostKeyBlob =
    head.method === METHOD_HOSTBOUND ? Buffer.from(r.string(16 * 1024, "host key")) : undefined;
  const signature = hasSignature ? Buffer.from(r.string(16 * 1024, "signature")) : null;
  r.done("publickey request");
  let key: PublicKey | null = null;
  try {
    key = PublicKey.fromBlob(keyBlob);
  } catch {
    key = null;
  }
  return {
    username: head.username,
    service: head.service,
    method: head.method,
    algorithm,
    keyBlob,
    ...(hostKeyBlob ? { hostKeyBlob } : {}),
    key,
    signature,
  };
}

export function parsePasswordRequest(head: RequestHead): { password: string; newPassword?: string } {
  const r = head.reader;
  const change = r.boolean();
  const password = r.utf8(MAX_TEXT, "password");
  const newPassword = change ? r.utf8(MAX_TEXT, "new password") : undefined;
  r.done("password request");
  return newPassword === undefined ? { password } : { password, newPassword };
}

export function parseKeyboardInteractiveRequest(head: RequestHead): { submethods: string } {
  const r = head.reader;
  r.string(256, "language tag");
  const submethods = r.utf8(1024, "submethods");
  r.done("keyboard-interactive request");
  return { submethods };
}

/** The short key type names ssh and sshd print ("ED25519 SHA256:…"). */
export function keyTypeLabel(key: PublicKey): string {
  if (key.type === "ssh-ed25519") return "ED25519";
  if (key.type === "ssh-rsa") return "RSA";
  return "ECDSA";
}

export function describeKey(key: PublicKey): string {
  return `${keyTypeLabel(key)} ${key.fingerprintSha256()}`;
}
