/**
 * A client command's V8 code cache: the bytecode V8 compiled for the command's bundle in an earlier run,
 * so that the next run need not parse and compile the functions it calls again (about a quarter of
 * `nssh host true`'s CPU time; bench/README.md). The same idea as Node 22's module.enableCompileCache(),
 * which Node 20 lacks.
 *
 * One file per command and Node runtime (its version, architecture and V8 options: V8 refuses a cache
 * made under other ones) in $NSSH_COMPILE_CACHE, else $XDG_CACHE_HOME/nssh, else ~/.cache/nssh; the
 * variable set to `none` switches the cache off. The file starts with a line naming the bundle file it was
 * made from (device, inode, size, modification and change times): a cache of another bundle is never
 * offered to V8, whose own check looks at little more than the source's length, and an upgrade that left
 * a bundle of the same size in the same inode with the same packed modification time still changes the
 * change time, which no archive can set.
 *
 * V8 runs what the file holds, so it is trusted as StrictModes trusts a user's files: the directory and
 * the file must be the user's own and writable by no one else; nothing is created inside a directory of
 * someone else's (sudo with another user's HOME). The cache only saves time: a run never fails or prints
 * for it, so errors reading or writing it leave the run as it would be without one.
 *
 * A Node upgrade (or other V8 options) makes a new file and leaves the old runtime's behind: when a run
 * writes its cache, it removes the command's files of other runtimes not written for STALE_AFTER_MS, and
 * temporary files a killed run left. A user who switches between runtimes keeps a file for each.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const HEADER_PREFIX = "nssh-compile-cache 1 ";

/** How long another runtime's cache file (or a temporary file) stays unused before a write removes it. */
export const STALE_AFTER_MS = 30 * 24 * 3600 * 1000;
/** A temporary file older than this belongs to a run that died while writing it. */
const ABANDONED_AFTER_MS = 3600 * 1000;

/** The cache of one command, as found at start. */
export interface CompileCache {
  /** V8's cached data to offer, if a cache of this very bundle was found. */
  readonly data: Buffer | undefined;
  /** Write what `data` makes as the cache (atomically: other runs read either the old file or the new one). */
  save(data: () => Buffer): void;
}

/**
 * Where the caches live, or null when switched off or no home is known. A relative $XDG_CACHE_HOME is
 * ignored, as the XDG Base Directory specification says.
 */
export function compileCacheDirectory(env: NodeJS.ProcessEnv = process.env): string | null {
  const chosen = env.NSSH_COMPILE_CACHE;
  if (chosen === "none") return null;
  if (chosen) return path.resolve(chosen);
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : homeCache(env);
  return base === null ? null : path.join(base, "nssh");
}

function homeCache(env: NodeJS.ProcessEnv): string | null {
  let home = env.HOME;
  if (!home) {
    try {
      home = os.homedir();
    } catch {
      return null; // no HOME and no passwd entry: no cache
    }
  }
  return home ? path.join(home, ".cache") : null;
}

/** The user's own, and writable by no one else (StrictModes' test for a file that grants something). */
export function isTrustedPath(stat: fs.Stats, uid: number = currentUid()): boolean {
  return stat.uid === uid && (stat.mode & 0o022) === 0;
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/** What the cache must have been made from: the bundle file as it is now. */
export function bundleIdentity(bundle: fs.Stats): string {
  return [bundle.dev, bundle.ino, bundle.size, bundle.mtimeMs, bundle.ctimeMs].join(" ");
}

/** This Node runtime, as far as V8 checks a cache against it: version, architecture, V8 options. */
function runtimeTag(): string {
  const runtime = [process.version, process.arch, ...process.execArgv, process.env.NODE_OPTIONS ?? ""];
  return createHash("sha256").update(runtime.join("\0")).digest("hex").slice(0, 16);
}

/** The cache for `command`, made from the bundle whose identity is given, for this Node runtime. */
export function openCompileCache(command: string, identity: string, directory: string | null): CompileCache {
  if (directory === null) return { data: undefined, save: () => {} };
  const file = path.join(directory, `${command}-${runtimeTag()}.v8cache`);
  const header = `${HEADER_PREFIX}${identity}\n`;
  return {
    data: readCache(file, header),
    save: (data) => {
      if (writeCache(directory, file, header, data)) pruneCaches(directory, command, path.basename(file));
    },
  };
}

function readCache(file: string, header: string): Buffer | undefined {
  try {
    // The folder first: a file in a folder others may write could be anything, even a FIFO to hang on.
    if (!isTrustedPath(fs.statSync(path.dirname(file)))) return undefined;
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile() || !isTrustedPath(stat)) return undefined;
      const content = Buffer.allocUnsafe(stat.size);
      const got = fs.readSync(fd, content, 0, stat.size, 0);
      const headerBytes = Buffer.byteLength(header);
      if (got !== stat.size || got <= headerBytes) return undefined;
      if (content.toString("latin1", 0, headerBytes) !== header) return undefined;
      return content.subarray(headerBytes);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined; // none yet, or not readable: the run compiles as without a cache
  }
}

/** Whether the cache was written. */
function writeCache(directory: string, file: string, header: string, data: () => Buffer): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  let created = false;
  try {
    if (!ensureDirectory(directory)) return false;
    const fd = fs.openSync(temporary, "wx", 0o600);
    created = true;
    try {
      writeAll(fd, Buffer.from(header, "latin1"));
      writeAll(fd, data());
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
    return true;
  } catch {
    // A full disk or a read-only home: the next run compiles as this one did; leave no partial file.
    if (created) removeQuietly(temporary);
    return false;
  }
}

/** Remove `command`'s caches of other runtimes unused for STALE_AFTER_MS, and abandoned temporary files. */
function pruneCaches(directory: string, command: string, current: string): void {
  const now = Date.now();
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return; // it was just written to; if it cannot be listed now, there is nothing to tidy
  }
  // Exactly this command's names: "nssh-" must not match another command's ("nssh-keygen-...").
  const ours = new RegExp(
    `^${command.replace(/[^a-z0-9]/gi, "\\$&")}-[0-9a-f]{16}\\.v8cache(\\.\\d+\\.tmp)?$`,
  );
  for (const name of names) {
    const match = ours.exec(name);
    if (name === current || match === null) continue;
    const limit = match[1] === undefined ? STALE_AFTER_MS : ABANDONED_AFTER_MS;
    const stat = lstatOrNull(path.join(directory, name));
    if (stat !== null && stat.isFile() && now - stat.mtimeMs > limit)
      removeQuietly(path.join(directory, name));
  }
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // It cannot be removed either: it is a .tmp file nothing reads.
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done);
}

/**
 * The directory, created (0700, with any missing parents) if the nearest existing one above it is the
 * user's own; false if it is not usable.
 */
function ensureDirectory(directory: string): boolean {
  let stat = lstatOrNull(directory);
  if (stat === null) {
    let ancestor = path.dirname(directory);
    let above = lstatOrNull(ancestor);
    while (above === null && path.dirname(ancestor) !== ancestor) {
      ancestor = path.dirname(ancestor);
      above = lstatOrNull(ancestor);
    }
    if (above === null || !above.isDirectory() || above.uid !== currentUid()) return false;
    fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    stat = fs.lstatSync(directory);
  }
  return stat.isDirectory() && isTrustedPath(stat);
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null; // missing: the caller creates it
  }
}
