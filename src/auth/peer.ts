/**
 * Where the peer is, for log lines in OpenSSH's wording ("from 127.0.0.1 port 52044",
 * "([127.0.0.1]:22)"). Callers may say; otherwise it is read from the transport's socket when that is a
 * TCP socket. The Transport keeps its socket private: the read below is structural and degrades to
 * "UNKNOWN" (as sshd prints for a non-socket) if the socket is not there.
 */
import type { Transport } from "../transport/index.js";

export interface PeerEndpoint {
  address: string;
  port: number;
}

export function peerEndpoint(transport: Transport, given?: Partial<PeerEndpoint>): PeerEndpoint {
  const socket = (transport as unknown as { socket?: { remoteAddress?: unknown; remotePort?: unknown } })
    .socket;
  const address =
    given?.address ?? (typeof socket?.remoteAddress === "string" ? socket.remoteAddress : "UNKNOWN");
  const port = given?.port ?? (typeof socket?.remotePort === "number" ? socket.remotePort : 65535);
  return { address: address.replace(/^::ffff:/, ""), port };
}
