/**
 * The state that moves an authenticated server connection to another process (nsshd's privilege separation:
 * the pre-auth worker hands the socket to a process running as the user). Everything here is secret key
 * material or session state: it travels only over the daemon's own IPC, never into a log.
 *
 * The hand-off happens after authentication succeeded but before USERAUTH_SUCCESS is sent: the new owner
 * sends it, so delayed compression (zlib@openssh.com, PROTOCOL §2.3) starts in the process that keeps it.
 */
import type { ProtectionState } from "../crypto/index.js";
import type { NegotiatedAlgorithms } from "./kexInit.js";

export interface DirectionHandoff {
  readonly seq: number;
  /** Bytes and packets under the current keys, so RekeyLimit goes on counting. */
  readonly bytes: number;
  readonly packets: number;
  readonly protection: ProtectionState;
}

export interface TransportHandoff {
  readonly localVersion: string;
  readonly peerVersion: string;
  readonly sessionId: Buffer;
  readonly negotiated: NegotiatedAlgorithms;
  /** The host key blob this connection was proved with (re-keys must sign with the same key). */
  readonly hostKeyBlob: Buffer;
  readonly strictKex: boolean;
  readonly peerExtensions: ReadonlyArray<readonly [string, Buffer]>;
  readonly incoming: DirectionHandoff;
  readonly outgoing: DirectionHandoff;
  /** Bytes received from the peer and not yet processed: they belong to the new owner. */
  readonly pendingInput: Buffer;
}

/**
 * Stop a socket's reads at hand-off. A paused net.Socket goes on reading into its buffer, and while its
 * handle is being passed to another process Node drops whatever it reads (its onread is a no-op until the
 * other side acknowledges the handle): the peer's next packets (a channel open after USERAUTH_SUCCESS,
 * which the new process sends) could be read here and lost, and the login hang. Node has no public call
 * for it; a stream without a handle (a test's pipe) has nothing to stop.
 */
export function stopSocketReads(socket: unknown): void {
  const handle = (socket as { _handle?: { reading?: boolean; readStop?: () => number } | null })._handle;
  if (!handle?.readStop) return;
  handle.reading = false;
  handle.readStop();
}
