/**
 * The server side of a session channel (RFC 4254 §6): it records pty-req, env and window-change, asks
 * the application about shell/exec/subsystem, and either lets the application drive the channel or runs
 * a real program for it (pipes or a PTY) and reports its end as exit-status or exit-signal.
 */
import { EventEmitter } from "node:events";
import { finished, type Readable, type Writable } from "node:stream";
import type { Channel } from "../connection/index.js";
import type { LogLevel } from "../transport/index.js";
import { SshError } from "../wire/index.js";
import { startProcess, type ProcessExit, type ProcessSpec, type RunningProcess } from "./processRunner.js";
import {
  decodeEnv,
  decodePtyRequest,
  decodeString,
  decodeWindowChange,
  encodeExitSignal,
  encodeExitStatus,
  type PtyRequest,
  type WindowChange,
} from "./requests.js";
import { nodeSignal } from "./signals.js";

export type SessionStart =
  { kind: "shell" } | { kind: "exec"; command: string } | { kind: "subsystem"; name: string };

export interface ServerSessionOptions {
  /** sshd's AcceptEnv: which env requests to take (default: LANG and LC_*, as Debian's sshd_config). */
  acceptEnv?: (name: string) => boolean;
  /** Allow pty-req (PermitTTY, default true). */
  permitPty?: boolean;
  log?: (level: LogLevel, message: string) => void;
}

export interface RunOptions {
  /** The user's shell; commands run as `shell -c command`, shells as a login shell. */
  shell: string;
  cwd: string;
  /** The environment the daemon builds (USER, HOME, PATH, SSH_CONNECTION...); accepted env requests go on top. */
  env: Record<string, string>;
  /** Run this instead of what the client asked (ForceCommand, or a subsystem's program). */
  command?: string;
  uid?: number;
  gid?: number;
  /** Start the program through a wrapper (see ProcessSpec.wrap). */
  wrap?: ProcessSpec["wrap"];
  /** Start a program on pipes by other means than Node's spawn (see ProcessSpec.spawner). */
  spawner?: ProcessSpec["spawner"];
  /** Put the client's accepted env requests on top of `env` (default true; false: `env` is complete). */
  mergeClientEnv?: boolean;
  /** Called once the program runs: its pid, and its terminal's path on a PTY. */
  onStart?: (info: { pid: number; ttyName: string | null }) => void;
}

export interface ServerSessionEvents {
  /** shell, exec or subsystem: call accept() or reject() (no listener: refused). */
  start: [start: SessionStart, accept: () => void, reject: () => void];
  /** The client resized its terminal (also applied to a running PTY). */
  "window-change": [size: WindowChange];
  /** The client sent a signal (also delivered to a running program). */
  signal: [name: string];
}

const MAX_ENV_VARIABLES = 128;

const defaultAcceptEnv = (name: string): boolean => name === "LANG" || name.startsWith("LC_");

export class ServerSession extends EventEmitter<ServerSessionEvents> {
  pty: PtyRequest | null = null;
  readonly env: Record<string, string> = {};
  started: SessionStart | null = null;
  private process: RunningProcess | null = null;
  private exited = false;

  constructor(
    readonly channel: Channel,
    private options: ServerSessionOptions = {},
  ) {
    // An async "start" listener that rejects must end its session, not the process.
    super({ captureRejections: true });
    channel.on("request", (name: string, wantReply: boolean, data: Buffer, reply: (ok: boolean) => void) => {
      let answered = false;
      const once = (ok: boolean): void => {
        if (answered) return;
        answered = true;
        reply(ok);
      };
      try {
        this.onRequest(name, wantReply, data, once);
      } catch (err) {
        this.log("debug1", `session: ${name} request failed: ${(err as Error).message}`);
        // A malformed request is refused and the channel stays usable (as OpenSSH does); a handler that
        // failed after accepting ends this session only.
        if (answered) channel.destroy();
        else once(false);
      }
    });
    channel.once("close", () => this.onChannelClosed());
  }

  /** Change the session's options (AcceptEnv, PermitTTY) for requests still to come. */
  configure(options: Partial<ServerSessionOptions>): void {
    this.options = { ...this.options, ...options };
  }

  /** The rejection of an async listener (captureRejections): log it and end this session. */
  [Symbol.for("nodejs.rejection")](err: Error): void {
    this.log("error", `session handler failed: ${err.message}`);
    this.channel.destroy();
  }

  /**
   * The client went away. Like sshd: the program's pipes close (its writes fail with EPIPE), and a PTY
   * program gets SIGHUP as from a closing terminal.
   */
  private onChannelClosed(): void {
    const proc = this.process;
    if (!proc || this.exited) return;
    proc.stdin.destroy();
    proc.stdout.destroy();
    proc.stderr?.destroy();
    if (this.pty) proc.kill("SIGHUP");
  }

  private log(level: LogLevel, message: string): void {
    this.options.log?.(level, message);
  }

  private onRequest(name: string, _wantReply: boolean, data: Buffer, reply: (ok: boolean) => void): void {
    switch (name) {
      case "pty-req":
        if (this.started || this.pty || this.options.permitPty === false) return reply(false);
        this.pty = decodePtyRequest(data);
        this.log("debug1", `session: pty-req ${this.pty.term} ${this.pty.cols}x${this.pty.rows}`);
        return reply(true);
      case "env": {
        const { name: key, value } = decodeEnv(data);
        // A peer must not grow our memory without bound: sshd takes at most 128 variables too.
        const ok =
          !this.started &&
          Object.keys(this.env).length < MAX_ENV_VARIABLES &&
          (this.options.acceptEnv ?? defaultAcceptEnv)(key);
        if (ok) this.env[key] = value;
        return reply(ok);
      }
      case "window-change": {
        const size = decodeWindowChange(data);
        if (this.pty) Object.assign(this.pty, size);
        this.process?.resize(size.cols, size.rows);
        this.emit("window-change", size);
        return reply(true);
      }
      case "signal": {
        const sig = decodeString(data, "signal name", 64).toString("latin1");
        const nodeSig = nodeSignal(sig);
        if (nodeSig && this.process && !this.exited) this.process.kill(nodeSig);
        this.emit("signal", sig);
        return reply(true);
      }
      case "shell":
      case "exec":
      case "subsystem": {
        if (this.started) return reply(false);
        const start: SessionStart =
          name === "shell"
            ? { kind: "shell" }
            : name === "exec"
              ? { kind: "exec", command: decodeString(data, "command").toString("utf8") }
              : { kind: "subsystem", name: decodeString(data, "subsystem name", 256).toString("utf8") };
        if (this.listenerCount("start") === 0) return reply(false);
        let answered = false;
        this.emit(
          "start",
          start,
          () => {
            if (answered) return;
            answered = true;
            this.started = start;
            reply(true);
          },
          () => {
            if (answered) return;
            answered = true;
            reply(false);
          },
        );
        return;
      }
      default:
        return reply(false);
    }
  }

  /**
   * End the session the way sshd does: once all output is out, exit-status (or exit-signal), then EOF,
   * then CLOSE (RFC 4254 §6.10). The status goes before EOF because a client whose own EOF is sent may
   * close the channel as soon as ours arrives.
   */
  async exit(result: number | ProcessExit): Promise<void> {
    const ch = this.channel;
    if (ch.destroyed) return;
    if (!ch.writableEnded) {
      // A zero-length write completes when everything queued before it (stdout and stderr share one
      // queue) has been handed to the transport.
      await new Promise<void>((resolve) => ch.write(Buffer.alloc(0), () => resolve()));
    }
    if (ch.destroyed) return;
    const r = typeof result === "number" ? { code: result, signal: null, coreDumped: false } : result;
    try {
      if (r.signal) {
        await ch.request(
          "exit-signal",
          encodeExitSignal({ signal: r.signal, coreDumped: r.coreDumped, message: "", language: "" }),
        );
      } else {
        await ch.request("exit-status", encodeExitStatus(r.code ?? 255));
      }
    } catch (err) {
      if (!(err instanceof SshError && err.code === "CHANNEL_CLOSED")) throw err;
    }
    ch.close();
  }

  /** Run the program for the started shell/exec/subsystem, wired to the channel; resolves when it has ended. */
  async run(options: RunOptions): Promise<ProcessExit> {
    const start = this.started;
    if (!start) throw new SshError("PROTOCOL", "run() before shell, exec or subsystem was accepted");
    if (start.kind === "subsystem" && options.command === undefined) {
      // Never run the client's subsystem name as a command: the caller names the program.
      throw new SshError("CONFIG", `run() for subsystem ${start.name} needs options.command`);
    }
    const command = options.command ?? (start.kind === "exec" ? start.command : null);
    const env = options.mergeClientEnv === false ? { ...options.env } : { ...options.env, ...this.env };
    const ch = this.channel;
    let proc: RunningProcess;
    try {
      proc = await startProcess({
        command,
        shell: options.shell,
        cwd: options.cwd,
        env,
        ...(this.pty ? { pty: { term: this.pty.term, cols: this.pty.cols, rows: this.pty.rows } } : {}),
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
        ...(options.wrap ? { wrap: options.wrap } : {}),
        ...(options.spawner ? { spawner: options.spawner } : {}),
      });
    } catch (err) {
      // As sshd when exec fails: the reason on stderr, status 127.
      this.log("error", `session: ${(err as Error).message}`);
      if (!ch.destroyed) ch.stderrWriter.write(`${(err as Error).message}\r\n`);
      const failed = { code: 127, signal: null, coreDumped: false };
      await this.exit(failed);
      return failed;
    }
    this.process = proc;
    options.onStart?.({ pid: proc.pid, ttyName: proc.ttyName });
    if (ch.destroyed) this.onChannelClosed(); // the client left while the program was starting
    gatherWrites(ch, proc.stdin);
    ch.pipe(proc.stdin);
    const outputs = [proc.stdout, ...(proc.stderr ? [proc.stderr] : [])];
    proc.stdout.pipe(ch, { end: false });
    proc.stderr?.pipe(ch.stderrWriter, { end: false });
    const drained = Promise.all(
      outputs.map((s) => new Promise<void>((resolve) => finished(s, () => resolve()))),
    );
    const result = await proc.exited;
    this.exited = true;
    await drained;
    this.log(
      "debug1",
      `session: program ${proc.pid} ended: ${result.signal ? `signal ${result.signal}` : `status ${result.code}`}`,
    );
    await this.exit(result);
    return result;
  }
}

/**
 * Data that arrives together (one socket read carries several packets) reaches the program in one
 * writev: each write to a pipe would wake the reader on its own. Attached before pipe() so that the
 * stream is corked before pipe() writes.
 */
function gatherWrites(source: Readable, target: Writable): void {
  let corked = false;
  source.on("data", () => {
    if (corked) return;
    corked = true;
    target.cork();
    process.nextTick(() => {
      corked = false;
      target.uncork();
    });
  });
}
