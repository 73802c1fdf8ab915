/**
 * Running programs as a system user: the native nssh-exec helper (native/nssh-exec.c: initgroups, setgid,
 * setuid, chdir, execv with our argv[0]) when it is built, or Node's spawn with uid/gid (which keeps no
 * supplementary groups) when it is not. Used for sessions and for what sshd does with the user's rights
 * before a session: reading authorized_keys and ~/.ssh/environment, AuthorizedKeysCommand.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SystemAccount } from "./accounts.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where scripts/build-native.mjs puts the helpers: <package>/native/build (from dist/src/daemon or src/daemon). */
function nativeDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.NSSH_NATIVE_DIR) dirs.push(process.env.NSSH_NATIVE_DIR);
  for (const up of ["../../..", "../.."]) dirs.push(path.resolve(here, up, "native", "build"));
  return dirs;
}

const found = new Map<string, string | null>();

/** The path of a built native helper ("nssh-exec", "nssh-pam-helper"), or null when it was not built. */
export function nativeHelper(name: "nssh-exec" | "nssh-pam-helper"): string | null {
  if (found.has(name)) return found.get(name)!;
  let result: string | null = null;
  for (const dir of nativeDirs()) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      result = p;
      break;
    } catch {
      // not in this folder: try the next one
    }
  }
  found.set(name, result);
  return result;
}

/** The path of a built Node-API addon ("nssh-chroot.node"), or null when it was not built. */
export function nativeAddonPath(
  name: "nssh-chroot.node" | "nssh-reexec.node" | "nssh-spawn.node",
): string | null {
  for (const dir of nativeDirs()) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

type AddonName = Parameters<typeof nativeAddonPath>[0];
const loadedAddons = new Map<AddonName, Record<string, unknown> | string>();

/**
 * A built Node-API addon's exports, loaded once per process, when it has each of `functions`; otherwise
 * why not (not built, did not load, or an older build without one of them), for the caller's log line.
 */
export function loadNativeAddon<T>(name: AddonName, functions: readonly (keyof T & string)[]): T | string {
  let loaded = loadedAddons.get(name);
  if (loaded === undefined) {
    const file = nativeAddonPath(name);
    if (file === null) loaded = `native/build/${name} is not built`;
    else {
      try {
        const module = { exports: {} as Record<string, unknown> };
        process.dlopen(module, file);
        loaded = module.exports;
      } catch (err) {
        loaded = `${file} did not load: ${(err as Error).message}`;
      }
    }
    loadedAddons.set(name, loaded);
  }
  if (typeof loaded === "string") return loaded;
  const missing = functions.filter((f) => typeof loaded[f] !== "function");
  return missing.length > 0 ? `native/build/${name} has no ${missing.join(", ")}` : (loaded as T);
}

/** Does running as `account` need an identity change from this process? */
export function needsIdentityChange(account: SystemAccount): boolean {
  return process.geteuid?.() === 0 && account.uid !== 0;
}

/** nssh-exec's options to become `account` (empty when no identity change is needed). */
export function identityArgs(account: SystemAccount): string[] {
  if (process.geteuid?.() !== 0) return [];
  return ["--user", account.name, "--uid", String(account.uid), "--gid", String(account.gid)];
}

export interface RunAsResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** stdout went past maxBytes (the program was killed). */
  truncated: boolean;
}

/**
 * Run `file args` as `account` with the given environment, collecting at most maxBytes of stdout (the
 * program is killed beyond that, and after timeoutMs).
 */
export function runAsUser(
  account: SystemAccount,
  file: string,
  args: string[],
  opts: { env?: Record<string, string>; maxBytes?: number; timeoutMs?: number; cwd?: string } = {},
): Promise<RunAsResult> {
  const maxBytes = opts.maxBytes ?? 1 << 20;
  const helper = nativeHelper("nssh-exec");
  const change = needsIdentityChange(account);
  let program = file;
  let argv = args;
  let spawnIds: { uid?: number; gid?: number } = {};
  if (change && helper) {
    program = helper;
    argv = [...identityArgs(account), "--", file, path.basename(file), ...args];
  } else if (change) {
    spawnIds = { uid: account.uid, gid: account.gid };
  }
  return new Promise((resolve) => {
    const child = spawn(program, argv, {
      env: opts.env ?? { PATH: "/usr/local/bin:/usr/bin:/bin" },
      cwd: opts.cwd ?? "/",
      stdio: ["ignore", "pipe", "pipe"],
      ...spawnIds,
    });
    const out: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.stdout.on("data", (d: Buffer) => {
      if (truncated) return;
      size += d.length;
      if (size > maxBytes) {
        truncated = true;
        child.kill("SIGKILL");
        return;
      }
      out.push(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString("utf8");
    });
    const done = (code: number | null): void => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: stderr.slice(0, 4096), truncated });
    };
    child.once("error", (err) => {
      stderr += err.message;
      done(null);
    });
    child.once("close", (code) => done(code));
  });
}

/** Read a file with the user's rights (as sshd reads authorized_keys: temporarily_use_uid). */
export async function readFileAsUser(
  account: SystemAccount,
  file: string,
  maxBytes = 1 << 20,
): Promise<string | null> {
  if (!needsIdentityChange(account)) {
    try {
      const fh = await fs.promises.open(file, "r");
      try {
        const buf = Buffer.alloc(maxBytes);
        const { bytesRead } = await fh.read(buf, 0, maxBytes, 0);
        return buf.subarray(0, bytesRead).toString("utf8");
      } finally {
        await fh.close();
      }
    } catch {
      return null;
    }
  }
  const r = await runAsUser(account, "/bin/cat", ["--", file], { maxBytes });
  if (r.code !== 0 && !r.truncated) return null;
  return r.stdout.toString("utf8");
}
