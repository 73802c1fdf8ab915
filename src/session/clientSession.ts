/**
 * The client side of a session channel (RFC 4254 §6): ask for a PTY and environment, start a shell, a
 * command or a subsystem, send window changes and signals, and learn how the remote program ended.
 */
import type { Channel, Connection } from "../connection/index.js";
import { SshError } from "../wire/index.js";
import {
  decodeExitSignal,
  decodeExitStatus,
  encodeBreak,
  encodeEnv,
  encodePtyRequest,
  encodeString,
  encodeWindowChange,
} from "./requests.js";
import type { TerminalModes } from "./terminalModes.js";

export interface PtyOptions {
  term?: string;
  cols?: number;
  rows?: number;
  widthPx?: number;
  heightPx?: number;
  modes?: TerminalModes;
}

/** How the remote program ended: an exit status, or a signal, or neither if the server said nothing. */
export interface SessionExit {
  code: number | null;
  signal: string | null;
  coreDumped: boolean;
  message: string;
}

export class ClientSession {
  /** Resolves when the channel has closed, with whatever exit-status or exit-signal came before. */
  readonly exit: Promise<SessionExit>;
  private status: SessionExit = { code: null, signal: null, coreDumped: false, message: "" };

  constructor(
    readonly channel: Channel,
    connection?: Connection,
  ) {
    channel.on("request", (name: string, _wantReply: boolean, data: Buffer, reply: (ok: boolean) => void) => {
      if (name === "exit-status") {
        this.status = { ...this.status, code: decodeExitStatus(data) };
        reply(true);
      } else if (name === "exit-signal") {
        const s = decodeExitSignal(data);
        this.status = { code: null, signal: s.signal, coreDumped: s.coreDumped, message: s.message };
        reply(true);
      } else {
        // eow@openssh.com and anything unknown: nothing to do (RFC 4254 §5.4 says reply failure).
        reply(false);
      }
    });
    this.exit = new Promise((resolve, reject) =>
      channel.once("close", () => {
        // The connection died before the server said how the program ended: that is an error (ssh
        // exits 255), not a program that ended without a status.
        const lost = connection?.isClosed && this.status.code === null && this.status.signal === null;
        if (lost) reject(new SshError("CONNECTION_LOST", "connection lost before the remote program ended"));
        else resolve(this.status);
      }),
    );
    this.exit.catch(() => {}); // a caller that never awaits exit must not crash the process
  }

  private async must(name: string, data: Buffer, failure: string): Promise<void> {
    if (!(await this.channel.request(name, data, true))) throw new SshError("REQUEST_FAILED", failure);
  }

  /** pty-req (RFC 4254 §6.2); the modes default to a sane cooked terminal. */
  requestPty(options: PtyOptions = {}): Promise<void> {
    const data = encodePtyRequest({
      term: options.term ?? "xterm-256color",
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      widthPx: options.widthPx ?? 0,
      heightPx: options.heightPx ?? 0,
      modes: options.modes ?? {},
    });
    return this.must("pty-req", data, "PTY allocation request failed");
  }

  /** env (RFC 4254 §6.4). Servers accept only what their AcceptEnv allows: false when refused. */
  setEnv(name: string, value: string): Promise<boolean> {
    return this.channel.request("env", encodeEnv(name, value), true);
  }

  shell(): Promise<void> {
    return this.must("shell", Buffer.alloc(0), "shell request failed");
  }

  exec(command: string | Buffer): Promise<void> {
    return this.must("exec", encodeString(command), "exec request failed");
  }

  subsystem(name: string): Promise<void> {
    return this.must("subsystem", encodeString(name), `subsystem request for ${name} failed`);
  }

  /** window-change (RFC 4254 §6.7). */
  windowChange(cols: number, rows: number, widthPx = 0, heightPx = 0): void {
    this.channel
      .request("window-change", encodeWindowChange({ cols, rows, widthPx, heightPx }), false)
      .catch(() => {}); // on a closed channel there is nothing left to resize
  }

  /** signal (RFC 4254 §6.9): "TERM", "INT", ... (a "SIG" prefix is dropped). */
  signal(name: string): void {
    this.channel.request("signal", encodeString(name.replace(/^SIG/, "")), false).catch(() => {}); // nor to signal
  }

  /** break (RFC 4335). */
  sendBreak(lengthMs = 0): Promise<boolean> {
    return this.channel.request("break", encodeBreak(lengthMs), true);
  }
}

/**
 * Open a session channel. It waits for the server's CLOSE rather than closing once EOF went both ways:
 * sshd may send EOF before exit-status (when the command's output closes before it is reaped).
 */
export async function openSession(
  connection: Connection,
  options: { signal?: AbortSignal } = {},
): Promise<ClientSession> {
  const channel = await connection.openChannel("session", Buffer.alloc(0), { ...options, closeOnEof: false });
  return new ClientSession(channel, connection);
}
