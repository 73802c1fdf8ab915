/**
 * The session ssh(1) runs after logging in (clientloop.c, ssh.c ssh_session2): a PTY when asked, the
 * environment (SendEnv, SetEnv), then a shell, a command or a subsystem; stdin/stdout/stderr carried with
 * back-pressure; window changes on SIGWINCH; escape sequences; the remote exit status becomes ours (255
 * when the server gave none, as when the connection dies or ~. ends it).
 */
import fs from "node:fs";
import tty from "node:tty";
import type { SshClient } from "../../client/index.js";
import type { Channel } from "../../connection/index.js";
import { openSession, type ClientSession } from "../../session/clientSession.js";
import { readLocalTerminalModes } from "./localTerminalModes.js";
import { sendEnvironment } from "./sessionEnvironment.js";
import { LOG_LEVELS, type CliLog } from "./log.js";
import { EscapeFilter, RawTerminal } from "./terminal.js";

export interface SessionPlan {
  /** Allocate a PTY (RequestTTY and -t/-T already decided). */
  pty: boolean;
  command: string | undefined;
  subsystem: boolean;
  sendEnv: string[];
  setEnv: string[];
  escapeChar: number | null;
  nullStdin: boolean;
  /** For "Connection to HOST closed." */
  hostLabel: string;
  /** Why the connection ended, when nssh ended it (ServerAliveInterval): said instead of "closed by remote host". */
  lostReason?: () => string | null;
  log: CliLog;
}

function windowSize(): { cols: number; rows: number } {
  const out = process.stdout as tty.WriteStream;
  if (out.isTTY) {
    const [cols, rows] = out.getWindowSize();
    return { cols, rows };
  }
  return { cols: 80, rows: 24 };
}

/** Bytes per read when stdin is a file: Node's 64 KiB reads cost about 2 CPU seconds per GiB. */
const FILE_STDIN_CHUNK = 1024 * 1024;

function stdinIsRegularFile(): boolean {
  try {
    return fs.fstatSync(0).isFile();
  } catch {
    return false; // no usable descriptor 0: process.stdin deals with that as it always has
  }
}

function readStdin(buffer: Buffer): Promise<number> {
  return new Promise((resolve, reject) =>
    // position null: from the file's current offset (as `cmd < file` or after a partial read).
    fs.read(0, buffer, 0, buffer.length, null, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/**
 * stdin that is a regular file, sent in FILE_STDIN_CHUNK reads into two buffers used in turn: a buffer
 * is read into again only once the channel has taken the bytes written from it (a write's callback runs
 * when they have been framed into packets), so there is no allocation per read, and a slow peer holds
 * the reading back (at most two chunks are in flight). At the file's end the channel gets EOF, as from ssh.
 */
async function sendFileStdin(channel: Channel, stopped: () => boolean, log: CliLog): Promise<void> {
  const buffers = [Buffer.allocUnsafe(FILE_STDIN_CHUNK), Buffer.allocUnsafe(FILE_STDIN_CHUNK)];
  let previous: Promise<void> | null = null;
  try {
    for (let k = 0; ; k++) {
      const buffer = buffers[k & 1]!;
      const n = await readStdin(buffer); // the write from this buffer two rounds ago is done
      if (previous) await previous;
      if (n === 0 || stopped()) break;
      previous = new Promise<void>((resolve, reject) =>
        channel.write(buffer.subarray(0, n), (err) => (err ? reject(err) : resolve())),
      );
    }
    if (previous) await previous;
  } catch (err) {
    // A channel closed under the write is reported by the session; a read error ends our input.
    log.debug1(`stdin: ${(err as Error).message}`);
  }
  if (!stopped()) channel.end();
}

/** Run the session to its end; resolves with nssh's exit status. */
export async function runSession(client: SshClient, plan: SessionPlan): Promise<number> {
  const log = plan.log;
  const session: ClientSession = await openSession(client.connection);
  const channel = session.channel;
  const stdin = process.stdin;
  const stdinIsTty = (stdin as tty.ReadStream).isTTY === true;
  // pty-req, env and the shell/command go out together, as ssh sends them (clientloop.c
  // client_session2_setup): the server answers in order, so the PTY's answer still comes (and is
  // reported) before the command's, and a PTY costs no round trip of its own.
  let ptyAnswered: Promise<void> = Promise.resolve();
  if (plan.pty) {
    const size = windowSize();
    // Read before raw mode is entered: the modes the user set are what the remote PTY should get.
    const modes = stdinIsTty ? readLocalTerminalModes(log) : {};
    log.debug2(`channel 0: request pty-req confirm 1`);
    ptyAnswered = session.requestPty({ term: process.env.TERM || "vt220", ...size, modes }).catch((err) => {
      log.error(`PTY allocation request failed on channel 0`);
      log.debug1(`${(err as Error).message}`);
    });
  }
  sendEnvironment(session, plan.sendEnv, plan.setEnv, log);
  let started: Promise<void>;
  if (plan.subsystem) {
    log.debug1(`Sending subsystem: ${plan.command ?? ""}`);
    started = session.subsystem(plan.command ?? "");
  } else if (plan.command !== undefined) {
    log.debug1(`Sending command: ${plan.command}`);
    started = session.exec(plan.command);
  } else {
    log.debug2("shell request accepted on channel 0");
    started = session.shell();
  }
  started.catch(() => {}); // awaited below, after the PTY's answer
  await ptyAnswered;
  await started;

  const raw = plan.pty && stdinIsTty ? new RawTerminal(stdin as tty.ReadStream) : null;
  raw?.enter();
  let quit = false;
  const onResize = (): void => {
    const { cols, rows } = windowSize();
    session.windowChange(cols, rows);
  };
  if (plan.pty && (process.stdout as tty.WriteStream).isTTY) process.stdout.on("resize", onResize);
  const filter = raw
    ? new EscapeFilter(plan.escapeChar, {
        disconnect: () => {
          quit = true;
          channel.destroy();
          void client.close();
        },
        suspend: () => raw.suspend(onResize),
        sendBreak: () => void session.sendBreak(0).catch(() => false),
        rekey: () =>
          void client.transport.rekey().then(
            () => log.verbose("rekey completed"),
            (err: Error) => log.error(`rekey failed: ${err.message}`),
          ),
        verbosity: (up) => {
          const at = LOG_LEVELS.indexOf(log.level);
          log.level = LOG_LEVELS[Math.max(0, Math.min(LOG_LEVELS.length - 1, at + (up ? 1 : -1)))]!;
          process.stderr.write(`${up ? "Raised" : "Lowered"} LogLevel to ${log.level}\r\n`);
        },
        listConnections: () =>
          `The following connections are open:\n  #0 client-session (t4 [session] r0 i0/0 o0/0 e[write]/0 fd 0/1/2 sock -1 cc -1)\n`,
        message: (text) => process.stderr.write(text.replace(/\r?\n/g, "\r\n") + "\r\n"),
      })
    : null;

  const fileInput = raw === null && !plan.nullStdin && stdinIsRegularFile();
  const onStdin = (data: Buffer): void => {
    const out = filter ? filter.filter(data) : data;
    if (quit || channel.destroyed || channel.writableEnded) return;
    if (out.length > 0 && !channel.write(out)) {
      stdin.pause();
      channel.once("drain", () => stdin.resume());
    }
  };
  const onStdinEnd = (): void => {
    if (!channel.writableEnded && !channel.destroyed) channel.end();
  };
  if (plan.nullStdin) channel.end();
  else if (fileInput)
    void sendFileStdin(channel, () => quit || channel.destroyed || channel.writableEnded, log);
  else {
    stdin.on("data", onStdin);
    stdin.once("end", onStdinEnd);
    stdin.resume();
  }
  channel.pipe(process.stdout, { end: false });
  channel.stderr.pipe(process.stderr, { end: false });

  let status = 255;
  try {
    const exit = await session.exit;
    if (exit.code !== null) status = exit.code;
    else if (exit.signal) log.debug1(`remote program killed by signal ${exit.signal}`);
  } catch (err) {
    log.debug1(`${(err as Error).message}`);
    if (!quit) log.error(plan.lostReason?.() ?? `Connection to ${plan.hostLabel} closed by remote host.`);
  } finally {
    stdin.off("data", onStdin);
    stdin.off("end", onStdinEnd);
    stdin.pause();
    process.stdout.off("resize", onResize);
    raw?.leave();
  }
  if (quit) status = 255;
  log.debug1(`Exit status ${status === 255 && quit ? -1 : status}`);
  if (plan.pty) log.info(`Connection to ${plan.hostLabel} closed.`);
  return status;
}
