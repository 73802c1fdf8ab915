/**
 * The library's own server (createServer) on 127.0.0.1 and a free port, for tests that point real
 * clients at it: one ed25519 host key made for it, the caller's AuthPolicy, and a session handler that
 * accepts every shell/exec and runs it for real as the current user (`/bin/sh -c command`, on a PTY when
 * the client asked for one) with sshd's environment. Every log line and every session's end is recorded;
 * close() ends the server and every connection.
 */
import os from "node:os";
import { PrivateKey } from "../../src/keys/index.js";
import type { ProcessExit } from "../../src/session/index.js";
import {
  createServer,
  defaultSessionEnv,
  type ServerConnection,
  type ServerOptions,
  type SshServer,
} from "../../src/server/index.js";
import type { LogLevel } from "../../src/transport/index.js";

const levels: LogLevel[] = ["error", "info", "verbose", "debug1", "debug2", "debug3"];

export interface LibrarySshServerOptions extends Partial<
  Omit<ServerOptions, "hostKeys" | "onSession" | "log">
> {
  auth: ServerOptions["auth"];
  /** Record log lines up to this level (default debug2: debug3 logs every packet). */
  logLevel?: LogLevel;
}

export interface LibrarySessionRecord {
  command: string | null;
  pty: boolean;
  /** How the program ended, once it has (error: run() failed). */
  result?: ProcessExit;
  error?: Error;
}

export interface LibrarySshServer {
  server: SshServer;
  port: number;
  hostKey: PrivateKey;
  /** A known_hosts line for this server, as ssh would write it ("[127.0.0.1]:port ssh-ed25519 ..."). */
  knownHostsLine: string;
  /** "level: message" lines from the transport, auth, connection and session layers. */
  log: string[];
  sessions: LibrarySessionRecord[];
  /** Authenticated connections, in order (user.methods, and user.publicKey: the key whose signature was verified). */
  connections: ServerConnection[];
  /** Resolves when every session started so far has ended (for checking `sessions` after a client exits). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startLibrarySshServer(options: LibrarySshServerOptions): Promise<LibrarySshServer> {
  const { logLevel = "debug2", ...serverOptions } = options;
  const maxLevel = levels.indexOf(logLevel);
  const hostKey = PrivateKey.generate("ssh-ed25519");
  const log: string[] = [];
  const sessions: LibrarySessionRecord[] = [];
  const running = new Set<Promise<unknown>>();
  const server = createServer({
    failureDelayMs: 5,
    ...serverOptions,
    hostKeys: [hostKey],
    log: (level, message) => {
      if (levels.indexOf(level) <= maxLevel) log.push(`${level}: ${message}`);
    },
    onSession: (session, connection) => {
      session.on("start", (start, accept, reject) => {
        if (start.kind === "subsystem") return reject();
        accept();
        const record: LibrarySessionRecord = {
          command: start.kind === "exec" ? start.command : null,
          pty: session.pty !== null,
        };
        sessions.push(record);
        const run = session
          .run({ shell: "/bin/sh", cwd: os.homedir(), env: defaultSessionEnv(connection) })
          .then(
            (result) => {
              record.result = result;
            },
            (err: Error) => {
              record.error = err;
              log.push(`error: session.run failed: ${err.message}`);
              session.channel.destroy();
            },
          );
        running.add(run);
        void run.finally(() => running.delete(run));
      });
    },
  });
  const connections: ServerConnection[] = [];
  server.on("connection", (c) => connections.push(c));
  server.on("error", (err) => log.push(`error: server: ${err.message}`));
  const { port } = await server.listen(0, "127.0.0.1");
  return {
    server,
    port,
    hostKey,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey.publicKey.toLine()}`,
    log,
    sessions,
    connections,
    settled: async () => {
      await Promise.all([...running]);
    },
    close: () => server.close(),
  };
}
