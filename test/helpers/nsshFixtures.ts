/**
 * Fixtures for the nssh command tests: a real sshd (test/helpers/opensshServer.ts) with a throwaway user
 * (shell /bin/sh) and a user key, a temp HOME for nssh with its own ~/.ssh, and a runner for
 * `node dist/src/cli/nssh.cjs` with stdin given, collected output and a time limit. tmux helpers drive an
 * interactive nssh on a real terminal.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createSystemUser, isRoot, makeUserKey, type KeyFile, type SystemUser } from "./authHelpers.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "./opensshServer.js";
import { envWithoutAgent, type ProgramRun } from "./processes.js";
import { runCli } from "./transferFixtures.js";

export const NSSH = fileURLToPath(new URL("../../src/cli/nssh.cjs", import.meta.url));

export const nsshSkip: string | false = !opensshAvailable()
  ? "OpenSSH is not installed"
  : !isRoot
    ? "needs root (sshd as root, a throwaway user)"
    : false;

export function tmuxAvailable(): boolean {
  return spawnSync("tmux", ["-V"]).status === 0;
}

export interface NsshWorld {
  sshd: OpenSshServer;
  user: SystemUser;
  /** A temp folder holding HOME and anything else the test needs. */
  dir: string;
  home: string;
  key: KeyFile;
  knownHosts: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...` */
  knownHostsLine: string;
  /** -F none, the key, the port, the known_hosts file and the user: everything but the destination. */
  baseArgs(extra?: string[]): string[];
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startNsshWorld(
  sshdConfig: string[] = [],
  options: { pam?: boolean; trustHostKey?: boolean } = {},
): Promise<NsshWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-cli-"));
  const home = path.join(dir, "home");
  fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
  const user = createSystemUser()!;
  let sshd: OpenSshServer;
  try {
    sshd = await startOpenSshServer(sshdConfig, options.pam ? { pam: true } : {});
  } catch (err) {
    user.remove();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const key = makeUserKey(dir, "id_ed25519", "ed25519");
  sshd.setAuthorizedKeys([fs.readFileSync(key.file + ".pub", "utf8").trim()]);
  const knownHosts = path.join(home, ".ssh", "known_hosts");
  const hostKey = sshd.hostPublicKeys.get("ed25519")!.split(" ").slice(0, 2).join(" ");
  const knownHostsLine = `[127.0.0.1]:${sshd.port} ${hostKey}`;
  if (options.trustHostKey !== false) fs.writeFileSync(knownHosts, knownHostsLine + "\n");
  return {
    sshd,
    user,
    dir,
    home,
    key,
    knownHosts,
    knownHostsLine,
    baseArgs: (extra = []) => [
      "-F",
      "none",
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "ConnectTimeout=10",
      "-i",
      key.file,
      "-p",
      String(sshd.port),
      "-l",
      user.name,
      ...extra,
    ],
    env: (extra = {}) => {
      const env: NodeJS.ProcessEnv = { ...envWithoutAgent(), HOME: home };
      delete env.SSH_ASKPASS;
      delete env.SSH_ASKPASS_REQUIRE;
      delete env.DISPLAY;
      return { ...env, ...extra };
    },
    async stop() {
      await sshd.stop();
      user.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run nssh with `stdin` (closed when undefined) in a session of its own, SIGKILL after the time limit. */
export function runNssh(
  args: string[],
  options: { env: NodeJS.ProcessEnv; stdin?: string | Buffer; timeoutMs?: number },
): Promise<ProgramRun> {
  return runCli("nssh", args, {
    env: options.env,
    input: options.stdin,
    timeoutMs: options.timeoutMs ?? 20_000,
    detached: true,
  });
}

/** An executable script in `dir` (askpass programs, an nc-style relay). */
export function writeScript(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

/** A node program that relays its stdin/stdout to 127.0.0.1:PORT given as argv (an `nc` for ProxyCommand). */
export function writeNcScript(dir: string): string {
  return writeScript(
    dir,
    "nc.mjs",
    `#!${process.execPath}
import net from "node:net";
const [host, port] = process.argv.slice(2);
const s = net.connect(Number(port), host);
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on("close", () => process.exit(0));
if (process.env.NC_PIDFILE) (await import("node:fs")).writeFileSync(process.env.NC_PIDFILE, String(process.pid));
// SIGUSR1 freezes the relay: the connection is then dead, but nothing closes (for ServerAliveInterval).
process.on("SIGUSR1", () => { process.stdin.unpipe(s); s.unpipe(process.stdout); s.pause(); process.stdin.pause(); });
`,
  );
}

// ---- tmux ------------------------------------------------------------------------------------------

export interface TmuxPane {
  socket: string;
  /** Type text (with -l, literally) then optionally Enter. */
  type(text: string, enter?: boolean): void;
  keys(...keys: string[]): void;
  /** The pane's visible text. */
  capture(): string;
  resize(cols: number, rows: number): void;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(): void;
}

let tmuxCount = 0;

/** A detached tmux server with one 100x30 window running /bin/sh, HOME and PS1 set. */
export function startTmux(dir: string, env: NodeJS.ProcessEnv): TmuxPane {
  // A fresh socket each time: a server still shutting down on a reused socket makes the next one fail.
  const socket = path.join(dir, `tmux-${++tmuxCount}.sock`);
  const tmux = (...args: string[]): string => {
    const r = spawnSync("tmux", ["-S", socket, ...args], { encoding: "utf8", env });
    if (r.status !== 0) throw new Error(`tmux ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  tmux("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "env", "PS1=$ ", "/bin/sh");
  tmux("set-option", "-g", "window-size", "manual");
  const pane: TmuxPane = {
    socket,
    type: (text, enter = true) => {
      tmux("send-keys", "-t", "0", "-l", text);
      if (enter) tmux("send-keys", "-t", "0", "Enter");
    },
    keys: (...keys) => void tmux("send-keys", "-t", "0", ...keys),
    capture: () => tmux("capture-pane", "-p", "-t", "0", "-S", "-100"),
    resize: (cols, rows) => void tmux("resize-window", "-t", "0", "-x", String(cols), "-y", String(rows)),
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = pane.capture();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`tmux pane never showed ${pattern}:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill: () => {
      spawnSync("tmux", ["-S", socket, "kill-server"]);
    },
  };
  return pane;
}
