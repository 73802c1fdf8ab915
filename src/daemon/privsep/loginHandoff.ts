/**
 * The monitor's side of a login: a worker claims that a user authenticated on a connection; the monitor
 * checks that claim against its own record (authRelay.ts) and the transport state the worker sent, resolves
 * ChrootDirectory, opens the PAM session, and hands the socket with that state to the user's session
 * process (sessionPool.ts). Any failed check refuses the login and ends the connection.
 */
import type net from "node:net";
import { cipherByName, macByName } from "../../crypto/index.js";
import type { PrivateKey } from "../../keys/index.js";
import { checkChrootDirectory, resolveChrootDirectory } from "../chroot.js";
import type { LoginGrant } from "../systemAuthPolicy.js";
import type { DaemonLog } from "../log.js";
import { loginEarned } from "./authRelay.js";
import type { SessionPool, SessionProcess } from "./sessionPool.js";
import type { PortableGrant, SessionConnection } from "./sessionMain.js";
import type { ConnectionEnd, LoginClaim, MonitorConnection } from "./monitorConnection.js";

/** What a login needs of the monitor. */
export interface LoginHost {
  log: DaemonLog;
  /** The connection by id while it lasts (it may end while a login waits). */
  connection(id: number): MonitorConnection | undefined;
  /** The host keys in force now: configure() replaces them on SIGHUP. */
  hostKeys(): readonly PrivateKey[];
  /** The configuration generation in force now. */
  generation(): number;
  sessions: SessionPool;
  endConnection(c: MonitorConnection, how: ConnectionEnd): void;
}

/**
 * A worker's login claim on connection `c` (its grace timer cleared, the socket the monitor accepted in
 * hand): check it and pass the connection to its user's session process; false if it was refused.
 */
export async function handOverLogin(
  host: LoginHost,
  c: MonitorConnection,
  claim: LoginClaim,
  socket: net.Socket,
): Promise<boolean> {
  const refuse = (why: string): false => {
    host.log.error(`monitor: refusing the login of ${claim.username} on connection ${c.id}: ${why}`);
    socket.destroy();
    host.endConnection(c, { reason: why });
    return false;
  };
  try {
    return await loginChecked(host, c, claim, socket, refuse);
  } catch (err) {
    return refuse((err as Error).message);
  }
}

async function loginChecked(
  host: LoginHost,
  c: MonitorConnection,
  claim: LoginClaim,
  socket: net.Socket,
  refuse: (why: string) => false,
): Promise<boolean> {
  // The connection may end (its worker dies, the client goes) while this waits.
  const gone = (): boolean => host.connection(c.id) !== c;
  // The worker's word is checked against the monitor's own record (authRelay.ts).
  const key = await loginEarned(c, claim.username);
  if (key === false) return refuse("no authentication the monitor saw");
  if (!c.sessionId || !claim.handoff.sessionId.equals(c.sessionId)) return refuse("session id mismatch");
  if (!host.hostKeys().some((k) => k.publicKey.blob.equals(claim.handoff.hostKeyBlob))) {
    return refuse("unknown host key");
  }
  const n = claim.handoff.negotiated;
  const known =
    cipherByName(n.cipherC2S) &&
    cipherByName(n.cipherS2C) &&
    (n.macC2S === null || macByName(n.macC2S)) &&
    (n.macS2C === null || macByName(n.macS2C));
  if (!known) return refuse("unknown algorithms in the transport state");
  if (gone()) return refuse("the connection ended");
  const grant = c.policy.grantFor(claim.username);
  if (!grant) return refuse("no login grant");
  c.username = claim.username;
  c.spec.preauthEnded();
  const settings = c.spec.settingsForUser(claim.username);
  // ChrootDirectory (session.c safely_chroot), resolved after authentication: a path that fails the
  // check ends the connection, as sshd's fatal() does, with its message in the log.
  let chroot: string | null;
  try {
    chroot = resolveChrootDirectory(settings.chrootDirectory, grant.account);
    if (chroot !== null && process.geteuid?.() !== 0) {
      throw new Error(`ChrootDirectory ${chroot} needs nsshd to run as root: login refused`);
    }
    if (chroot !== null) await checkChrootDirectory(chroot);
  } catch (err) {
    c.spec.write("error", (err as Error).message, true);
    return refuse((err as Error).message);
  }
  const pamSession = await openPamSession(grant, c);
  if (gone()) return refuse("the connection ended");
  const keyAuth = key ? grant.keyFor(key) : undefined;
  const portable: PortableGrant = {
    account: grant.account,
    passwordChangeRequired: grant.passwordChangeRequired,
    pamSession,
    ...(keyAuth
      ? {
          key: {
            blob: keyAuth.key.blob,
            entry: {
              file: keyAuth.entry.file,
              line: keyAuth.entry.line,
              options: keyAuth.entry.options,
              comment: keyAuth.entry.comment,
            },
            where: keyAuth.where,
          },
        }
      : {}),
  };
  let s: SessionProcess;
  try {
    s = await host.sessions.sessionFor(grant, chroot);
  } catch (err) {
    return refuse(`no session process: ${(err as Error).message}`);
  }
  if (gone()) return refuse("the connection ended");
  c.session = s;
  c.phase = "session";
  s.connections.add(c.id);
  // The record of how it authenticated (keys included) was for this check only, as was the policy's state
  // of the users and keys tried; the connection stays, maybe for hours.
  c.successes.length = 0;
  c.policy.settle?.();
  const post = c.spec.postauth(claim.username);
  const message: SessionConnection = {
    conn: c.id,
    generation: host.generation(),
    info: c.spec.info,
    handoff: claim.handoff,
    user: { username: claim.username, methods: claim.methods, ...(key ? { publicKey: key.blob } : {}) },
    grant: portable,
    settings,
    maxSessions: post.maxSessions,
    clientAlive: post.clientAlive,
  };
  await s.child.peer.request("connection", message, () => true, socket);
  return true;
}

async function openPamSession(grant: LoginGrant, c: MonitorConnection): Promise<PortableGrant["pamSession"]> {
  const pam = grant.pam;
  if (!pam || pam.ended) return null;
  let messages = "";
  pam.conversation = { prompt: () => null, message: (text) => void (messages += `${text}\n`) };
  const { status, env } = await pam.openSession();
  if (!status || status.code !== 0) {
    c.spec.write("error", `PAM: pam_open_session(): ${status?.text ?? "helper failed"}`, true);
    return null;
  }
  return { env, messages };
}
