/** The events a Transport emits. */
import type { SshError } from "../wire/index.js";

export interface TransportEvents {
  /** The first key exchange is complete and the session id is set. */
  ready: [];
  /** A re-key completed. */
  rekeyed: [];
  /** The transport ended; `error` is null for a local, orderly disconnect. */
  close: [error: SshError | null];
  /** Outgoing buffers have drained after send() returned false. */
  drain: [];
  /** The peer's EXT_INFO (RFC 8308). */
  extInfo: [extensions: Map<string, Buffer>];
  /** Server: a client's service request was accepted. */
  service: [name: string];
  pong: [data: Buffer];
}
