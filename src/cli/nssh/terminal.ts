/**
 * The local side of an interactive session: the terminal in raw mode (restored on every way out: normal
 * end, error, signal, ~., ~^Z) and ssh's escape sequences (ssh(1) ESCAPE CHARACTERS), recognised only
 * right after a newline: ~. ~^Z ~# ~? ~~ ~B ~R ~V ~v ~C (the command line is not supported yet).
 */
import type tty from "node:tty";
import { onExitRestore, restoreTerminals } from "./readPassphrase.js";

export interface EscapeActions {
  disconnect(): void;
  suspend(): void;
  sendBreak(): void;
  rekey(): void;
  verbosity(up: boolean): void;
  listConnections(): string;
  /** Messages for the user (stderr, with \r\n as the terminal is raw). */
  message(text: string): void;
}

const HELP = [
  "Supported escape sequences:",
  " ~.   - terminate connection (and any multiplexed sessions)",
  " ~B   - send a BREAK to the remote system",
  " ~C   - open a command line (not supported yet)",
  " ~R   - request rekey",
  " ~V/v - decrease/increase verbosity (LogLevel)",
  " ~^Z  - suspend ssh",
  " ~#   - list forwarded connections",
  " ~?   - this message",
  " ~~   - send the escape character by typing it twice",
  "(Note that escapes are only recognized immediately after newline.)",
];

/** Finds escape sequences in what the user types and takes them out of the data sent to the server. */
export class EscapeFilter {
  private atLineStart = true;
  private pending = false;

  constructor(
    private readonly escapeChar: number | null,
    private readonly actions: EscapeActions,
  ) {}

  /** The bytes to send for `input`, after acting on any escape sequence in it. */
  filter(input: Buffer): Buffer {
    if (this.escapeChar === null) return input;
    const out: number[] = [];
    const esc = this.escapeChar;
    const shown = esc < 32 ? `^${String.fromCharCode(esc + 64)}` : String.fromCharCode(esc);
    for (const b of input) {
      if (this.pending) {
        this.pending = false;
        switch (b) {
          case 0x2e: // .
            this.actions.message(`${shown}.`);
            this.actions.disconnect();
            return Buffer.from(out);
          case 0x1a: // ^Z
            this.actions.message(`${shown}^Z [suspend ssh]`);
            this.actions.suspend();
            continue;
          case 0x42: // B
            this.actions.message(`${shown}B`);
            this.actions.sendBreak();
            continue;
          case 0x52: // R
            this.actions.message(`${shown}R`);
            this.actions.rekey();
            continue;
          case 0x56: // V
          case 0x76: // v
            this.actions.verbosity(b === 0x76);
            continue;
          case 0x23: // #
            this.actions.message(`${shown}#\n${this.actions.listConnections()}`);
            continue;
          case 0x3f: // ?
            this.actions.message(`${shown}?\n${HELP.join("\n").replaceAll("~", shown)}`);
            continue;
          case 0x43: // C
            this.actions.message(`${shown}C\nThe escape command line (~C) is not supported yet.`);
            continue;
          default:
            if (b !== esc) out.push(esc);
            out.push(b);
            this.atLineStart = b === 0x0d || b === 0x0a;
            continue;
        }
      }
      if (this.atLineStart && b === esc) {
        this.pending = true;
        continue;
      }
      out.push(b);
      this.atLineStart = b === 0x0d || b === 0x0a;
    }
    return Buffer.from(out);
  }
}

/** The local terminal in raw mode while a remote PTY session runs. */
export class RawTerminal {
  private unregister: (() => void) | null = null;

  constructor(private readonly input: tty.ReadStream) {}

  enter(): void {
    if (this.input.isRaw) return;
    this.input.setRawMode(true);
    this.unregister = onExitRestore(() => this.leave());
  }

  leave(): void {
    if (this.input.isRaw) this.input.setRawMode(false);
    this.unregister?.();
    this.unregister = null;
  }

  /** ~^Z: give the terminal back, stop this process, take the terminal again when continued. */
  suspend(onResume: () => void): void {
    this.leave();
    process.once("SIGCONT", () => {
      this.enter();
      onResume();
    });
    process.kill(process.pid, "SIGTSTP");
  }
}

/** Signals that end nssh: the terminal is restored before the process goes (ssh's signal handlers). */
export function installSignalRestore(onSignal: (signal: NodeJS.Signals) => void): void {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) {
    process.on(sig, () => {
      restoreTerminals();
      onSignal(sig);
    });
  }
  process.on("exit", () => restoreTerminals());
}
