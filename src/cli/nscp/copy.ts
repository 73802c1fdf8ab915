/**
 * One nscp copy, by the kind of its ends (scp.c toremote, tolocal, and the remote-to-remote cases): each
 * remote end through SFTP, or the legacy protocol with -O.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { hasGlob } from "../nsftp/glob.js";
import type { RemoteSpec, SshProgramOptions } from "../nsftp/sshProgram.js";
import { errorText } from "../nsftp/treeTransfer.js";
import { directRemoteToRemote, legacyDownload, legacyUpload } from "./legacyCopy.js";
import { anyFailed, warn, type Settings } from "./settings.js";
import { sftpDownload, sftpUpload } from "./sftpCopy.js";

function isLocalDirectory(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

/** Local files to a remote target. */
export async function upload(
  locals: string[],
  dst: RemoteSpec,
  ssh: SshProgramOptions,
  s: Settings,
  many: boolean,
): Promise<void> {
  if (s.legacy) return legacyUpload(locals, dst, ssh, s, many);
  return sftpUpload(locals, dst, ssh, s, many);
}

/** A remote source to a local target (into it when it is a directory; it must be one for several). */
export async function download(
  src: RemoteSpec,
  target: string,
  ssh: SshProgramOptions,
  s: Settings,
  many: boolean,
): Promise<void> {
  const intoDir = isLocalDirectory(target);
  if (many && !intoDir) {
    warn(`scp: ${target}: Not a directory`);
    return;
  }
  if (s.legacy) return legacyDownload(src, target, ssh, s, intoDir);
  return sftpDownload(src, target, ssh, s, intoDir);
}

/** A remote source to a remote target: straight with -R, else through this host. */
export async function remoteToRemote(
  src: RemoteSpec,
  srcArg: string,
  dst: RemoteSpec,
  dstArg: string,
  ssh: SshProgramOptions,
  s: Settings,
): Promise<void> {
  if (s.direct && !s.through3) return directRemoteToRemote(src, dstArg, ssh, s);
  // Through this host (the default since OpenSSH 8.7, and -3): download to a private temporary folder,
  // then upload from it.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nscp-"));
  try {
    const name = path.posix.basename((src.path || ".").replace(/\/+$/, "")) || "file";
    const staged = path.join(tmp, name);
    const before = anyFailed();
    await download(src, hasGlob(src.path) ? tmp : staged, ssh, s, false);
    if (anyFailed() && !before) return;
    const items = hasGlob(src.path) ? fs.readdirSync(tmp).map((n) => path.join(tmp, n)) : [staged];
    if (items.length === 0) warn(`scp: ${srcArg}: No such file or directory`);
    else await upload(items, dst, ssh, s, items.length > 1);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Both ends local: a plain copy, as scp.c runs cp. */
export function copyLocal(src: string, target: string, s: Settings, many: boolean): void {
  try {
    const intoDir = isLocalDirectory(target);
    if (many && !intoDir) return warn(`scp: ${target}: Not a directory`);
    const dest = intoDir ? path.join(target, path.basename(src)) : target;
    if (fs.statSync(src).isDirectory() && !s.recursive) return warn(`scp: ${src}: not a regular file`);
    fs.cpSync(src, dest, { recursive: s.recursive, preserveTimestamps: s.preserve });
  } catch (err) {
    warn(`scp: ${src}: ${errorText(err)}`);
  }
}
