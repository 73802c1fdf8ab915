/**
 * Asking the user for a secret or a yes/no, as OpenSSH's readpass.c does: on /dev/tty (never stdin, which
 * may carry data) with echo off, or through the SSH_ASKPASS program when there is no terminal and a display
 * is set, or always when SSH_ASKPASS_REQUIRE=force (=prefer: when a display is set, =never: not at all).
 * A prompt that cannot be shown answers null, so the caller fails closed.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import tty from "node:tty";
import type { CliLog } from "./log.js";

export interface ReadOptions {
  /** Show what is typed (host key confirmation); secrets are never echoed. */
  echo?: boolean;
  /** A yes/no question: the askpass program is told so (SSH_ASKPASS_PROMPT=confirm). */
  confirm?: boolean;
}

const DEFAULT_ASKPASS = "/usr/bin/ssh-askpass";

/** Restorers of the terminals we put in raw mode, run on every way out of the process. */
const restorers = new Set<() => void>();
export function onExitRestore(fn: () => void): () => void {
  restorers.add(fn);
  return () => restorers.delete(fn);
}
export function restoreTerminals(): void {
  for (const fn of [...restorers]) {
    try {
      fn();
    } catch (err) {
      // A terminal that went away cannot be restored; there is nothing else to do with it.
      void err;
    }
  }
  restorers.clear();
}

function askpassChoice(): { use: boolean; program: string } {
  const hasDisplay = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  const require = (process.env.SSH_ASKPASS_REQUIRE ?? "").toLowerCase();
  const program = process.env.SSH_ASKPASS || DEFAULT_ASKPASS;
  let allow = hasDisplay;
  let prefer = false;
  if (require === "force") {
    allow = true;
    prefer = true;
  } else if (require === "prefer") prefer = allow;
  else if (require === "never") allow = false;
  return { use: allow && (prefer || !hasTerminal()), program: allow ? program : "" };
}

function hasTerminal(): boolean {
  try {
    fs.closeSync(fs.openSync("/dev/tty", "r+"));
    return true;
  } catch {
    return false; // no controlling terminal (cron, a daemon, setsid)
  }
}

export async function readPassphrase(
  prompt: string,
  log: CliLog,
  options: ReadOptions = {},
): Promise<string | null> {
  const askpass = askpassChoice();
  if (askpass.use) return runAskpass(askpass.program, prompt, log, options);
  let fd: number;
  try {
    fd = fs.openSync("/dev/tty", "r+");
  } catch (err) {
    log.debug1(`read_passphrase: can't open /dev/tty: ${(err as NodeJS.ErrnoException).code}`);
    if (askpass.program) return runAskpass(askpass.program, prompt, log, options);
    return null;
  }
  return readFromTerminal(fd, prompt, options.echo ?? false);
}

function runAskpass(
  program: string,
  prompt: string,
  log: CliLog,
  options: ReadOptions,
): Promise<string | null> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    if (options.confirm) env.SSH_ASKPASS_PROMPT = "confirm";
    const child = spawn(program, [prompt], { stdio: ["ignore", "pipe", "inherit"], env });
    const out: Buffer[] = [];
    let size = 0;
    child.stdout.on("data", (d: Buffer) => {
      size += d.length;
      if (size <= 8192) out.push(d); // a passphrase, not a file: bounded
    });
    child.once("error", (err) => {
      log.error(`ssh_askpass: exec(${program}): ${err.message}`);
      resolve(null);
    });
    child.once("close", (code) => {
      if (code !== 0) return resolve(null);
      resolve(
        Buffer.concat(out)
          .toString("utf8")
          .replace(/\r?\n[\s\S]*$/, ""),
      );
    });
  });
}

/** Read one line from the terminal in raw mode, echoing it only when asked (readpassphrase(3)). */
function readFromTerminal(fd: number, prompt: string, echo: boolean): Promise<string | null> {
  return new Promise((resolve) => {
    const input = new tty.ReadStream(fd);
    const write = (s: string): void => {
      try {
        fs.writeSync(fd, s);
      } catch (err) {
        void err; // the terminal is gone: the read below ends too
      }
    };
    let done = false;
    const chars: string[] = [];
    const restore = (): void => {
      if (input.isRaw) input.setRawMode(false);
    };
    const unregister = onExitRestore(restore);
    const finish = (answer: string | null): void => {
      if (done) return;
      done = true;
      restore();
      unregister();
      write("\n");
      input.destroy();
      resolve(answer);
    };
    input.setRawMode(true);
    write(prompt);
    input.on("data", (data: Buffer) => {
      for (const ch of data.toString("utf8")) {
        if (done) return;
        if (ch === "\r" || ch === "\n") return finish(chars.join(""));
        if (ch === "\x03") {
          // ^C: as readpassphrase(3), the signal is delivered after the terminal is restored. Its
          // handlers run now, before the prompt's empty answer can move the login on (a signal sent to
          // ourselves arrives later, through the event loop); without one, the signal ends the process.
          finish(null);
          restoreTerminals();
          if (!process.emit("SIGINT", "SIGINT")) process.kill(process.pid, "SIGINT");
          return;
        }
        if (ch === "\x04" && chars.length === 0) return finish(null);
        if (ch === "\x7f" || ch === "\b") {
          if (chars.pop() !== undefined && echo) write("\b \b");
        } else if (ch === "\x15") {
          if (echo) write("\b \b".repeat(chars.length));
          chars.length = 0;
        } else if (ch >= " " || ch === "\t") {
          if (chars.length < 1024) chars.push(ch);
          if (echo) write(ch);
        }
      }
    });
    input.once("end", () => finish(null));
    input.once("error", () => finish(null));
  });
}
