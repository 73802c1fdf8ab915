/**
 * A session process: started spare by the monitor (as root when the monitor is), it becomes one user as
 * its first act (after chroot(2) to the user's ChrootDirectory, when there is one: chrootSession.ts) and then
 * serves every authenticated connection of that user: the monitor passes each
 * socket with the transport state a worker handed off. Shells, commands, SFTP and their files run here
 * with the user's own rights; what needs root (utmp/wtmp/lastlog, the tty's group) and host key
 * signatures for re-keys are requests to the monitor.
 */
import type net from "node:net";
import { PublicKey } from "../../keys/index.js";
import type { SshServer } from "../../server/index.js";
import type { LogLevel } from "../../transport/index.js";
import type { SystemAccount } from "../accounts.js";
import { startClientAlive } from "../clientAlive.js";
import { startLoginSession } from "../login.js";
import type { LoginSettings } from "../loginSettings.js";
import type { KeyAuthorization, LoginGrant } from "../systemAuthPolicy.js";
import type { AuthorizedKeyEntry } from "../systemAuthKeys.js";
import { generationServer, remoteHostKeySigner } from "./authRelay.js";
import { becomeUser, type UserIdentity } from "./becomeUser.js";
import { confineSession } from "./chrootSession.js";
import { answerPings } from "./childWatchdog.js";
import { IpcPeer, logRankFromEnvironment, type IpcChannel } from "./ipc.js";
import {
  announceReady,
  connectionTransportLog,
  reportClosed,
  trusted,
  type ConnectionInfo,
  type TransportSettings,
} from "./messages.js";
import { object, uint } from "./schema.js";
import { arenaSocketFor, type TransportHandoff } from "../../transport/index.js";

/** A LoginGrant as it crosses processes: plain data, the key as its blob. */
export interface PortableGrant {
  account: SystemAccount;
  passwordChangeRequired: boolean;
  key?: { blob: Buffer; entry: Omit<AuthorizedKeyEntry, "key">; where: string };
  pamSession: { env: Record<string, string>; messages: string } | null;
}

export interface SessionConnection {
  conn: number;
  generation: number;
  info: ConnectionInfo;
  handoff: TransportHandoff;
  user: { username: string; methods: string[]; publicKey?: Buffer };
  grant: PortableGrant;
  settings: LoginSettings;
  maxSessions: number;
  clientAlive: { interval: number; countMax: number };
}

/** The user's keys, parsed once for all their connections (a login's key is usually the last one's). */
class UserKeys {
  private readonly keys = new Map<string, PublicKey>();

  of(blob: Uint8Array): PublicKey {
    const id = Buffer.from(blob.buffer, blob.byteOffset, blob.length).toString("base64");
    let key = this.keys.get(id);
    if (!key) {
      // A session process serves one user: a handful of keys, bounded should that user have many.
      if (this.keys.size >= 32) this.keys.clear();
      key = PublicKey.fromBlob(Buffer.from(blob));
      this.keys.set(id, key);
    }
    return key;
  }
}

function grantFrom(p: PortableGrant, peer: IpcPeer, conn: number, userKeys: UserKeys): LoginGrant {
  let keyAuth: KeyAuthorization | undefined;
  if (p.key) {
    const key = userKeys.of(p.key.blob);
    keyAuth = { key, entry: { ...p.key.entry, key }, where: p.key.where };
  }
  const record = (op: string, args: object): Promise<unknown> =>
    peer.request(op, { conn, ...args }, trusted());
  return {
    account: p.account,
    pam: null,
    passwordChangeRequired: p.passwordChangeRequired,
    keys: keyAuth ? [keyAuth] : [],
    keyFor: (k) => (k && keyAuth && k.equals(keyAuth.key) ? keyAuth : undefined),
    pamSession: p.pamSession,
    loginRecorder: {
      lastLogin: async () => String((await record("lastLogin", {})) ?? ""),
      loggedIn: async (tty, pid) => void (await record("loggedIn", { tty, pid })),
      loggedOut: async (tty, pid) => void (await record("loggedOut", { tty, pid })),
    },
  };
}

export function runSessionProcess(channel: IpcChannel): void {
  const peer = new IpcPeer(channel, {
    onRefused: (reason) => void note(undefined, "error", `session process: refused a message: ${reason}`),
    logRank: logRankFromEnvironment(),
  });
  const servers = new Map<number, { server: SshServer; hostKeys: PublicKey[] }>();
  const userKeys = new UserKeys();
  const note = (conn: number | undefined, level: LogLevel, message: string): void =>
    peer.log(level, message, conn);
  const logFor = (conn: number) => ({
    error: (m: string) => void note(conn, "error", m),
    info: (m: string) => void note(conn, "info", m),
    verbose: (m: string) => void note(conn, "verbose", m),
    debug1: (m: string) => void note(conn, "debug1", m),
    debug2: (m: string) => void note(conn, "debug2", m),
    debug3: (m: string) => void note(conn, "debug3", m),
  });

  peer.handle("become", trusted<UserIdentity & { username: string; chroot?: string }>(), async (id) => {
    // sshd's order (do_setusercontext): chroot while still root, then the identity change.
    if (id.chroot !== undefined) await confineSession(id.chroot);
    becomeUser(id);
    return process.pid;
  });
  peer.handle(
    "configure",
    object({ generation: uint(2 ** 31), transport: trusted<TransportSettings>() }),
    (g) => {
      servers.set(g.generation, generationServer(peer, g.transport));
      return true;
    },
  );
  peer.handle(
    "connection",
    trusted<SessionConnection>(),
    (c, received: net.Socket | undefined) => {
      const g = servers.get(c.generation);
      if (!received || !g) {
        received?.destroy();
        throw new Error(
          !received ? "no socket came with the connection" : `unknown generation ${c.generation}`,
        );
      }
      // Bulk data arrives here: read into one reused buffer rather than a new one per read (readArena.ts).
      const socket = arenaSocketFor(received);
      // No closure below refers to `c`: the message (transport keys, bytes pending at hand-off) is not
      // kept for as long as the connection lasts, only what the connection goes on using.
      const { conn, settings } = c;
      const log = logFor(conn);
      const grant = grantFrom(c.grant, peer, conn, userKeys);
      const user = {
        username: c.user.username,
        methods: c.user.methods,
        ...(c.user.publicKey ? { publicKey: userKeys.of(c.user.publicKey) } : {}),
      };
      let served: ReturnType<SshServer["resume"]>;
      try {
        served = g.server.resume(socket, c.handoff, c.info, user, {
          hostKeys: g.hostKeys.map((k, i) => remoteHostKeySigner(peer, conn, i, k)),
          maxSessions: c.maxSessions,
          log: connectionTransportLog(peer, conn, c.info),
          onSession: (session, connection) => startLoginSession(session, connection, grant, settings, log),
        });
      } catch (err) {
        socket.destroy();
        throw err;
      }
      startClientAlive(served, c.clientAlive.interval, c.clientAlive.countMax, log);
      served.transport.once("close", (err) => {
        reportClosed(peer, conn, err);
      });
      return true;
    },
    { takesSocket: true },
  );
  answerPings(peer);
  announceReady(peer);
}
