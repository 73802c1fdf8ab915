/**
 * A client command's V8 code cache: the bytecode V8 compiled for the command's bundle in an earlier run,
 * so that the next run need not parse and compile the functions it calls again (about a quarter of
 * `nssh host true`'s CPU time; bench/README.md). The same idea as Node 22's module.enableCompileCache(),
 * which Node 20 lacks.
 *
 * One file per command in $NSSH_COMPILE_CACHE, else $XDG_CACHE_HOME/nssh, else ~/.cache/nssh; the
 * variable set to `none` switches the cache off. The file starts with a line naming what it was made
 * from (the bundle's identity, Node's version and architecture): a cache of another bundle is never
 * offered to V8, whose own check looks at little more than the source's length. V8 still rejects a cache
 * made under other V8 flags, and then the next representative run writes a new one.
 *
 * V8 runs what the file holds, so it is trusted as StrictModes trusts a user's files: the directory and
 * the file must be the user's own and writable by no one else; nothing is created inside a directory of
 * someone else's (sudo with another user's HOME). The cache only saves time: a run never fails or prints
 * for it, so errors reading or writing it leave the run as it would be without one.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const HEADER_PREFIX = "nssh-compile-cache 1 ";

/** The cache of one command, as found at start. */
export interface CompileCache {
  /** V8's cached data to offer, if a cache of this very bundle was found. */
  readonly data: Buffer | undefined;
  /** Write `data` as the cache (atomically: other runs read either the old file or the new one). */
  save(data: Buffer): void;
}

/** Where the caches live, or null when switched off or no home is known. */
export function compileCacheDirectory(env: NodeJS.ProcessEnv = process.env): string | null {
  const chosen = env.NSSH_COMPILE_CACHE;
  if (chosen === "none") return null;
  if (chosen) return path.resolve(chosen);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : homeCache(env);
  return base === null ? null : path.join(base, "nssh");
}

function homeCache(env: NodeJS.ProcessEnv): string | null {
  const home = env.HOME || os.homedir();
  return home ? path.join(home, ".cache") : null;
}

/** The user's own, and writable by no one else (StrictModes' test for a file that grants something). */
export function isTrustedPath(stat: fs.Stats, uid: number = currentUid()): boolean {
  return stat.uid === uid && (stat.mode & 0o022) === 0;
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/** What the cache must have been made from: the bundle file as it is now and this Node. */
export function bundleIdentity(bundle: fs.Stats): string {
  return [bundle.dev, bundle.ino, bundle.size, bundle.mtimeMs, process.version, process.arch].join(" ");
}

/** The cache for `command`, made from the bundle whose identity is given. */
export function openCompileCache(command: string, identity: string, directory: string | null): CompileCache {
  if (directory === null) return { data: undefined, save: () => {} };
  const file = path.join(directory, `${command}.v8cache`);
  const header = `${HEADER_PREFIX}${identity}\n`;
  return {
    data: readCache(file, header),
    save: (data) => writeCache(directory, file, header, data),
  };
}

function readCache(file: string, header: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined; // none yet (or not readable): the run compiles as without a cache
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || !isTrustedPath(stat) || !isTrustedPath(fs.statSync(path.dirname(file)))) {
      return undefined;
    }
    const content = Buffer.allocUnsafe(stat.size);
    const got = fs.readSync(fd, content, 0, stat.size, 0);
    const headerBytes = Buffer.byteLength(header);
    if (got !== stat.size || got <= headerBytes) return undefined;
    if (content.toString("latin1", 0, headerBytes) !== header) return undefined;
    return content.subarray(headerBytes);
  } finally {
    fs.closeSync(fd);
  }
}

function writeCache(directory: string, file: string, header: string, data: Buffer): void {
  try {
    if (!ensureDirectory(directory)) return;
    const temporary = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(temporary, "wx", 0o600);
    try {
      fs.writeSync(fd, header);
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch {
    // A full disk or a read-only home: the next run compiles as this one did.
  }
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
