/**
 * The server's work for each method of one USERAUTH_REQUEST: publickey (RFC 4252 §7 and OpenSSH's
 * publickey-hostbound-v00), password (RFC 4252 §8) and keyboard-interactive (RFC 4256). Each asks the
 * policy the same questions whether the user is valid or not, then fails an invalid user whatever the
 * answers were; serverAuth.ts turns the result into the reply.
 */
import { performance } from "node:perf_hooks";
import { signatureAlgorithm, type PublicKey } from "../keys/index.js";
import type { Transport, TransportLogger } from "../transport/index.js";
import { Msg, SshError } from "../wire/index.js";
import type { AuthMessage, AuthMessageQueue } from "./messageQueue.js";
import type { AuthPolicy, KeyboardInteractiveChallenge } from "./policy.js";
import {
  describeKey,
  encodeInfoRequest,
  encodePasswdChangeReq,
  encodePkOk,
  MAX_PROMPTS,
  METHOD_HOSTBOUND,
  parseInfoResponse,
  parseKeyboardInteractiveRequest,
  parsePasswordRequest,
  parsePublicKeyRequest,
  publicKeySignedData,
  type PublicKeyRequestFields,
  type RequestHead,
} from "./signedData.js";

export interface MethodContext {
  transport: Transport;
  queue: AuthMessageQueue;
  policy: AuthPolicy;
  username: string;
  service: string;
  /** The user exists and the service is ssh-connection: only then may anything succeed. */
  valid: boolean;
  log: TransportLogger;
  /** "from ADDR port N ssh2", for log lines. */
  from: string;
  /** When the work for the answer began (the failure delay counts from here). */
  startedAt: number;
  /** Keys that already completed a publickey step of this authentication ("publickey,publickey"). */
  usedKeys: readonly PublicKey[];
  acceptedAlgorithms: readonly string[];
  hostKey: () => PublicKey | null;
}

export type MethodResult =
  /** `key`: the key whose signature was verified. */
  | { kind: "success"; key?: PublicKey; keyDescription?: string }
  | { kind: "failure"; keyDescription?: string }
  /** PK_OK or PASSWD_CHANGEREQ was sent: the request is answered, nothing failed. */
  | { kind: "postponed" }
  /** A new request ended a keyboard-interactive conversation; it is back in the queue. */
  | { kind: "interrupted" };

/**
 * Run a policy call: an exception is logged and counts as "no" (fail closed); the end of the connection
 * or an abort ends the wait (the promise then rejects with that).
 */
export function safely<T>(
  queue: AuthMessageQueue,
  log: TransportLogger,
  call: () => T | Promise<T>,
): Promise<T | undefined> {
  const failed = (err: unknown): undefined => {
    // A client that gives up on keyboard-interactive with a new request (RFC 4252 §5) is no failure.
    const interrupted = err instanceof SshError && err.code === "ABORTED";
    log(
      interrupted ? "verbose" : "error",
      `authentication policy failed: ${(err as Error)?.message ?? String(err)}`,
    );
    return undefined;
  };
  let answer: Promise<T | undefined>;
  try {
    answer = Promise.resolve(call()).catch(failed);
  } catch (err) {
    answer = Promise.resolve(failed(err));
  }
  return queue.guard(answer);
}

function who(ctx: MethodContext): string {
  return ctx.valid ? ctx.username : `invalid user ${ctx.username}`;
}

export async function runPublicKey(ctx: MethodContext, head: RequestHead): Promise<MethodResult> {
  const req = parsePublicKeyRequest(head);
  if (req.method === METHOD_HOSTBOUND) {
    const ours = ctx.hostKey();
    if (!ours) {
      ctx.log("error", `${METHOD_HOSTBOUND}: the host key of this connection is not known (pass hostKeys)`);
      return { kind: "failure" };
    }
    // A request bound to another host key was signed for another server: sshd ends the connection.
    if (!req.hostKeyBlob!.equals(ours.blob)) {
      throw new SshError("PROTOCOL", `${METHOD_HOSTBOUND} packet contained wrong host key`);
    }
  }
  const key = req.key;
  if (!key) {
    ctx.log("debug1", "userauth_pubkey: cannot decode key");
    return { kind: "failure" };
  }
  const keyDescription = describeKey(key);
  ctx.log(
    "debug1",
    req.signature
      ? `userauth_pubkey: ${req.method} have ${req.algorithm} signature for ${keyDescription}`
      : `userauth_pubkey: ${req.method} test pkalg ${req.algorithm} pkblob ${keyDescription}`,
  );
  const alg = signatureAlgorithm(req.algorithm);
  if (!alg || alg.keyType !== key.type) {
    ctx.log("debug1", `userauth_pubkey: key type ${key.type} does not match algorithm ${req.algorithm}`);
    return { kind: "failure", keyDescription };
  }
  if (!ctx.acceptedAlgorithms.includes(req.algorithm)) {
    ctx.log(
      "debug1",
      `userauth_pubkey: signature algorithm ${req.algorithm} not in PubkeyAcceptedAlgorithms`,
    );
    return { kind: "failure", keyDescription };
  }
  if (ctx.usedKeys.some((k) => k.equals(key))) {
    ctx.log("verbose", `userauth_pubkey: refusing previously-used ${keyDescription}`);
    return { kind: "failure", keyDescription };
  }
  const allowed =
    (await safely(ctx.queue, ctx.log, () =>
      ctx.policy.checkPublicKey?.({ username: ctx.username, key, service: ctx.service }),
    )) === true && ctx.valid;
  if (!req.signature) {
    if (!allowed) return { kind: "failure", keyDescription };
    ctx.transport.send(encodePkOk(req.algorithm, req.keyBlob));
    ctx.log("verbose", `Postponed publickey for ${ctx.username} ${ctx.from}`);
    return { kind: "postponed" };
  }
  if (!allowed) return { kind: "failure", keyDescription };
  // The signature must cover this very request: its user, service, method, algorithm, key (and host
  // key), under this session id; and it is verified with the key this request names, never with a key
  // seen in an earlier query (x/crypto CVE-2024-45337). A policy that verifies it itself (nsshd's
  // monitor, with the session id it signed) is left to do so in publicKeyVerified.
  const policyVerifies = ctx.policy.verifiesSignatures === true && ctx.policy.publicKeyVerified !== undefined;
  if (
    !policyVerifies &&
    !key.verify(publicKeySignedData(ctx.transport.sessionId!, req), req.signature, [req.algorithm])
  ) {
    ctx.log("debug1", `userauth_pubkey: signature by ${keyDescription} did not verify`);
    return { kind: "failure", keyDescription };
  }
  if (ctx.policy.publicKeyVerified) {
    const fields: PublicKeyRequestFields = {
      username: req.username,
      service: req.service,
      method: req.method,
      algorithm: req.algorithm,
      keyBlob: req.keyBlob,
      ...(req.hostKeyBlob ? { hostKeyBlob: req.hostKeyBlob } : {}),
    };
    const confirmed = await safely(ctx.queue, ctx.log, () =>
      ctx.policy.publicKeyVerified!({
        username: ctx.username,
        key,
        request: fields,
        signature: req.signature!,
      }),
    );
    if (confirmed !== true) return { kind: "failure", keyDescription };
  }
  return { kind: "success", key, keyDescription };
}

export async function runPassword(ctx: MethodContext, head: RequestHead): Promise<MethodResult> {
  const { password, newPassword } = parsePasswordRequest(head);
  const p = ctx.policy;
  if (!p.checkPassword) return { kind: "failure" };
  const verdict = await safely(ctx.queue, ctx.log, () =>
    p.checkPassword!({ username: ctx.username, password }),
  );
  const right = verdict === true || (typeof verdict === "object" && verdict !== null);
  if (newPassword !== undefined) {
    if (!right || !ctx.valid || !p.changePassword) return { kind: "failure" };
    const changed = await safely(ctx.queue, ctx.log, () =>
      p.changePassword!({ username: ctx.username, oldPassword: password, newPassword }),
    );
    return changed === true ? { kind: "success" } : { kind: "failure" };
  }
  if (!ctx.valid || !right) return { kind: "failure" };
  if (verdict === true) return { kind: "success" };
  if (!p.changePassword) return { kind: "failure" };
  ctx.transport.send(encodePasswdChangeReq((verdict as { changeRequired: string }).changeRequired));
  ctx.log("verbose", `Postponed password for ${ctx.username} ${ctx.from}: change required`);
  return { kind: "postponed" };
}

/**
 * keyboard-interactive: the policy runs the conversation through `ask`. Each INFO_RESPONSE must answer
 * the request just sent, with exactly as many responses as it had prompts; anything else ends the
 * connection, whatever the policy does with the error. A new USERAUTH_REQUEST ends the conversation
 * (RFC 4256 §3.4) and is processed next.
 */
export async function runKeyboardInteractive(ctx: MethodContext, head: RequestHead): Promise<MethodResult> {
  const { submethods } = parseKeyboardInteractiveRequest(head);
  const p = ctx.policy;
  if (!p.keyboardInteractive) return { kind: "failure" };
  let finished = false;
  let interrupted = false;
  let first = true;
  let stop!: (err: Error) => void;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {});
  const fatal = (err: Error): never => {
    stop(err);
    throw err;
  };
  const ask = async (challenge: KeyboardInteractiveChallenge): Promise<string[]> => {
    if (finished) throw new Error("the keyboard-interactive conversation is over");
    if (challenge.prompts.length > MAX_PROMPTS) throw new Error(`more than ${MAX_PROMPTS} prompts`);
    ctx.transport.send(
      encodeInfoRequest({
        name: challenge.name ?? "",
        instructions: challenge.instructions ?? "",
        prompts: challenge.prompts,
      }),
    );
    if (first) ctx.log("verbose", `Postponed keyboard-interactive for ${who(ctx)} ${ctx.from}`);
    first = false;
    let m: AuthMessage;
    try {
      m = await ctx.queue.next();
    } catch (err) {
      return fatal(err as Error);
    }
    if (finished) {
      // The policy gave its verdict without waiting for this answer: the message is the main loop's.
      ctx.queue.unshift(m);
      throw new Error("the keyboard-interactive conversation is over");
    }
    if (m.type === Msg.USERAUTH_REQUEST) {
      ctx.queue.unshift(m);
      interrupted = true;
      return fatal(new SshError("ABORTED", "keyboard-interactive conversation interrupted by a new request"));
    }
    if (m.type !== Msg.USERAUTH_INFO_RESPONSE) {
      return fatal(new SshError("PROTOCOL", `unexpected message ${m.type} during keyboard-interactive`));
    }
    let answers: string[];
    try {
      answers = parseInfoResponse(m.payload, challenge.prompts.length);
    } catch (err) {
      return fatal(err as Error);
    }
    ctx.startedAt = performance.now();
    return answers;
  };
  let ok: boolean | undefined;
  try {
    ok = await Promise.race([
      safely(ctx.queue, ctx.log, () => p.keyboardInteractive!({ username: ctx.username, submethods }, ask)),
      stopped,
    ]);
  } catch (err) {
    if (interrupted) return { kind: "interrupted" };
    throw err;
  } finally {
    finished = true;
    ctx.queue.cancelWait();
  }
  return ok === true && ctx.valid ? { kind: "success" } : { kind: "failure" };
}
