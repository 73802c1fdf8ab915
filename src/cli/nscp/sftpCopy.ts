/**
 * nscp's default protocol: SFTP through `ssh -s host sftp` (nssh's connection in this process unless -S
 * names a program), as scp(1) does since OpenSSH 9.0.
 */
import fs from "node:fs";
import path from "node:path";
import { isDirectoryMode } from "../../sftp/attrs.js";
import type { SftpClient } from "../../sftp/client.js";
import { expandGlob } from "../nsftp/glob.js";
import {
  openSftpTransport,
  optionsForRemote,
  type RemoteSpec,
  type SftpTransport,
  type SshProgramOptions,
} from "../nsftp/sshProgram.js";
import { downloadPath, errorText, uploadPath, type TreeOptions } from "../nsftp/treeTransfer.js";
import { markFailed, remotePathOrHome, warn, type Settings } from "./settings.js";

function treeOptions(s: Settings): TreeOptions {
  const o: TreeOptions = {
    recursive: s.recursive,
    preserve: s.preserve,
    resume: false,
    fsync: false,
    progress: !s.quiet,
    out: process.stdout,
    warn: (m) => warn(`scp: ${m}`),
  };
  if (s.requests) o.requests = s.requests;
  if (s.blockSize) o.blockSize = s.blockSize;
  if (s.limitKbps) o.limitKbps = s.limitKbps;
  return o;
}

async function closeSftp(t: SftpTransport): Promise<void> {
  // ssh ends with the session; do not wait on one that hangs.
  await Promise.race([t.client.end(), new Promise((r) => setTimeout(r, 3000))]);
  await t.close();
}

/** Run `work` over an SFTP session to `spec`'s host, closed afterwards; a session that fails to start is reported. */
async function withSftp(
  spec: RemoteSpec,
  ssh: SshProgramOptions,
  work: (client: SftpClient) => Promise<void>,
): Promise<void> {
  let t: SftpTransport;
  try {
    t = await openSftpTransport(optionsForRemote(ssh, spec), spec.host);
  } catch (err) {
    warn(`scp: Connection closed: ${(err as Error).message}`);
    return;
  }
  try {
    await work(t.client);
  } finally {
    await closeSftp(t);
  }
}

async function remoteIsDir(client: SftpClient, p: string): Promise<boolean> {
  return client.stat(p).then(
    (a) => isDirectoryMode(a.mode),
    () => false,
  );
}

/** Local files to `dst` (into it when it is a directory). */
export async function sftpUpload(
  locals: string[],
  dst: RemoteSpec,
  ssh: SshProgramOptions,
  s: Settings,
  many: boolean,
): Promise<void> {
  await withSftp(dst, ssh, async (client) => {
    const target = remotePathOrHome(dst.path);
    const intoDir = await remoteIsDir(client, target);
    if (many && !intoDir) {
      warn(`scp: ${target}: Not a directory`);
      return;
    }
    for (const l of locals) {
      if (!fs.existsSync(l)) {
        warn(`scp: stat local "${l}": No such file or directory`);
        continue;
      }
      const remote = intoDir ? `${target.replace(/\/$/, "")}/${path.basename(l)}` : target;
      if (fs.statSync(l).isDirectory() && !s.recursive) {
        warn(`scp: local "${l}" is not a regular file`);
        warn(`scp: failed to upload file ${l} to ${remote}`);
        continue;
      }
      try {
        if (!(await uploadPath(client, l, remote, treeOptions(s)))) markFailed();
      } catch (err) {
        warn(`scp: ${remote}: ${errorText(err)}`);
      }
    }
  });
}

/** The files `src` names (a glob pattern is expanded on the server) to `target`. */
export async function sftpDownload(
  src: RemoteSpec,
  target: string,
  ssh: SshProgramOptions,
  s: Settings,
  intoDir: boolean,
): Promise<void> {
  await withSftp(src, ssh, async (client) => {
    const pattern = remotePathOrHome(src.path);
    const matches = await expandGlob(pattern, async (dir) =>
      client.readdir(dir).then(
        (e) => e.map((x) => x.filename),
        () => null,
      ),
    );
    if (matches.length === 0) {
      warn(`scp: ${pattern}: No such file or directory`);
      return;
    }
    if (matches.length > 1 && !intoDir) {
      warn(`scp: ${target}: Not a directory`);
      return;
    }
    for (const m of matches) {
      const local = intoDir ? path.join(target, path.posix.basename(m)) : target;
      if (!s.recursive && (await remoteIsDir(client, m))) {
        warn(`scp: download ${m.replace(/\/*$/, "/")}: not a regular file`);
        continue;
      }
      try {
        if (!(await downloadPath(client, m, local, treeOptions(s)))) markFailed();
      } catch (err) {
        warn(`scp: ${m}: ${errorText(err)}`);
      }
    }
  });
}
