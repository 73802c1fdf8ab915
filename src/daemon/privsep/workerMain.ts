/**
 * A pre-auth worker: runs as the unprivileged account, takes accepted sockets from the monitor and runs
 * version exchange, key exchange and the authentication protocol for many connections at once. Every
 * privileged step (signing with a host key, every AuthPolicy question) is a request to the monitor. When a
 * user is authenticated, the connection's transport state and socket go back to the monitor, which gives
 * them to the user's session process; this worker then forgets the connection.
 */
import type net from "node:net";
import { PublicKey } from "../../keys/index.js";
import type { SshServer } from "../../server/index.js";
import type { LogLevel } from "../../transport/index.js";
import { generationServer, remoteAuthPolicy, remoteHostKeySigner, serveConversations } from "./authRelay.js";
import { answerPings } from "./childWatchdog.js";
import { IpcPeer, logRankFromEnvironment, type IpcChannel } from "./ipc.js";
import { bool, object, uint } from "./schema.js";
import {
  conn as connId,
  trusted,
  type ConnectionInfo,
  type PreauthSettings,
  type TransportSettings,
  reportClosed,
  connectionTransportLog,
  announceReady,
} from "./messages.js";

interface Generation {
  server: SshServer;
  hostKeys: PublicKey[];
}

export function runWorker(channel: IpcChannel): void {
  const peer = new IpcPeer(channel, {
    // The monitor is trusted; a message from it that does not parse is a bug worth a line.
    onRefused: (reason) => void note(undefined, "error", `worker: refused a message: ${reason}`),
    logRank: logRankFromEnvironment(),
  });
  const generations = new Map<number, Generation>();
  const note = (conn: number | undefined, level: LogLevel, message: string): void =>
    peer.log(level, message, conn);

  serveConversations(peer);
  answerPings(peer);
  peer.handle(
    "configure",
    object({ generation: uint(2 ** 31), transport: trusted<TransportSettings>() }),
    (g) => {
      generations.set(g.generation, generationServer(peer, g.transport));
      // Older generations stay until their connections are gone; the monitor says when to drop them.
      return true;
    },
  );
  peer.handle("forget", object({ generation: uint(2 ** 31) }), ({ generation }) =>
    generations.delete(generation),
  );

  peer.handle(
    "connection",
    object({
      conn: connId,
      generation: uint(2 ** 31),
      info: trusted<ConnectionInfo>(),
      settings: trusted<PreauthSettings>(),
    }),
    ({ conn, generation, info, settings }, socket: net.Socket | undefined) => {
      const g = generations.get(generation);
      if (!socket || !g) {
        socket?.destroy();
        throw new Error(!socket ? "no socket came with the connection" : `unknown generation ${generation}`);
      }
      let handedOff = false;
      const transport = g.server.handleSocket(socket, info, {
        ...settings,
        hostKeys: g.hostKeys.map((k, i) => remoteHostKeySigner(peer, conn, i, k)),
        auth: remoteAuthPolicy(peer, conn),
        log: connectionTransportLog(peer, conn, info),
        handOff: (user, t) => {
          let handoff;
          try {
            handoff = t.handOff();
          } catch (err) {
            // A key exchange begun right after the login, say: this connection cannot move, and ends.
            void note(conn, "error", `cannot hand the connection off: ${(err as Error).message}`);
            t.disconnect(undefined, "internal error");
            return;
          }
          handedOff = true;
          const claim = { conn, username: user.username, methods: user.methods, handoff };
          // The monitor kept the socket it accepted and hands that one on: this process only closes its
          // copy (closing a descriptor of a socket another process holds does not end the connection).
          peer.request("authenticated", claim, bool).catch((err: Error) => {
            void note(conn, "error", `handing off the connection failed: ${err.message}`);
          });
          socket.destroy();
        },
      });
      transport.once("close", (err) => {
        if (handedOff) return;
        reportClosed(peer, conn, err);
      });
      return true;
    },
    { takesSocket: true },
  );
  announceReady(peer);
}
