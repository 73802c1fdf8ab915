/**
 * A child process for test/transport/handoff.test.ts: it receives a socket and a TransportHandoff from its
 * parent (as nsshd's session process will from the pre-auth side), goes on with the connection, sends
 * USERAUTH_SUCCESS, and answers exec requests by echoing the command and its own pid, exit status 0. As
 * nsshd's session process, it re-makes the received socket to read into an arena (arenaSocketFor), and
 * says so in each line should the resumed transport have parsed its own host key again rather than share
 * the one it was given.
 */
import type net from "node:net";
import { Connection } from "../../src/connection/index.js";
import { parsePrivateKey } from "../../src/keys/index.js";
import { ServerSession } from "../../src/session/index.js";
import { arenaSocketFor, Transport, type TransportHandoff } from "../../src/transport/index.js";

process.on("message", (msg: { handoff: TransportHandoff; hostKey: string }, received?: net.Socket) => {
  if (!received) throw new Error("no socket was passed");
  const socket = arenaSocketFor(received);
  const hostKey = parsePrivateKey(msg.hostKey);
  const transport = new Transport(
    { role: "server", socket, hostKeys: [hostKey], rekeyLimit: { bytes: 64 * 1024 } },
    msg.handoff,
  );
  const note = transport.hostKey === hostKey.publicKey ? "" : " (host key parsed again)";
  transport.send(Buffer.from([52])); // SSH_MSG_USERAUTH_SUCCESS: the new owner sends it
  const connection = new Connection(transport);
  connection.setChannelOpenHandler("session", (req) => {
    const session = new ServerSession(req.accept());
    session.on("start", (start, accept) => {
      accept();
      const command = start.kind === "exec" ? start.command : start.kind;
      const text = `${command} from ${process.pid}${note}\n`;
      session.channel.write(text.repeat(command === "big" ? 20000 : 1), () => void session.exit(0));
    });
  });
  transport.once("close", () => process.exit(0));
});
process.send?.("ready");
