/**
 * sshd -i (inetd mode): one connection on stdin and stdout. Under inetd stdin is the accepted socket and
 * names the peer; as a ProxyCommand or from a pipe there is no socket peer, and sshd says
 * "UNKNOWN port 65535" for both ends (its get_peer_ipaddr / get_local_port on a non-socket).
 */
import net from "node:net";
import { Duplex } from "node:stream";
import type { ServerConnectionInfo } from "../server/index.js";

export const UNKNOWN_ADDRESS = "UNKNOWN";
export const UNKNOWN_PORT = 65535;

/** stdin/stdout as one stream, and what can be known of the peer. */
export function stdioConnection(): { stream: Duplex; info: ServerConnectionInfo } {
  const stdin = process.stdin as NodeJS.ReadStream & Partial<net.Socket>;
  const socketPeer = stdin instanceof net.Socket && stdin.remoteAddress ? stdin : null;
  const stream = Duplex.from({ readable: process.stdin, writable: process.stdout });
  return {
    stream,
    info: {
      remoteAddress: socketPeer?.remoteAddress ?? UNKNOWN_ADDRESS,
      remotePort: socketPeer?.remotePort ?? UNKNOWN_PORT,
      localAddress: socketPeer?.localAddress ?? UNKNOWN_ADDRESS,
      localPort: socketPeer?.localPort ?? UNKNOWN_PORT,
    },
  };
}
