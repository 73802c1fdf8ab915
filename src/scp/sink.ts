/**
 * The receiving side of the legacy SCP protocol (scp.c sink(), what `scp -t` runs and what a legacy
 * download uses). The sender's names are never trusted (CVE-2019-6111, and its later repeats): a name
 * that is empty, ".", "..", or holds a "/" is refused, a directory without recursive is refused, and at
 * the top level a download accepts only names the request asked for (`acceptTopLevel`). Setuid, setgid
 * and sticky bits are dropped unless preserve; without preserve the umask applies.
 */
import fs from "node:fs";
import path from "node:path";
import { ScpProtocolError, type ScpStream } from "./scpStream.js";
import { systemText } from "./source.js";

export interface SinkOptions {
  recursive: boolean;
  preserve: boolean;
  /** The target must be a directory (scp -d, or several sources). */
  targetIsDirectory: boolean;
  /** For a download: may a top-level name be written? (matches the requested source's last component) */
  acceptTopLevel?: (name: string) => boolean;
  warn: (message: string) => void;
  onFile?: (name: string, size: number) => { update(received: number): void; finish(): void };
}

interface Times {
  atime: number;
  mtime: number;
}

const CONTROL = /^([CD])([0-7]{4}) (\d+) (.+)$/;

/** Receive into `target`. Sends the opening zero byte itself. Returns false when anything failed. */
export async function scpReceive(io: ScpStream, target: string, o: SinkOptions): Promise<boolean> {
  let targetIsDir = false;
  try {
    targetIsDir = fs.statSync(target).isDirectory();
  } catch {
    targetIsDir = false; // a new file or directory by that name
  }
  if (o.targetIsDirectory && !targetIsDir) {
    await io.error(`${target}: Not a directory`, true);
    o.warn(`scp: ${target}: Not a directory`);
    return false;
  }
  await io.ok();
  return receiveLevel(io, target, targetIsDir, 0, o);
}

async function receiveLevel(
  io: ScpStream,
  target: string,
  targetIsDir: boolean,
  depth: number,
  o: SinkOptions,
): Promise<boolean> {
  let ok = true;
  let times: Times | null = null;
  const umask = process.umask();
  for (;;) {
    const first = await io.byte();
    if (first === null) {
      if (depth > 0) throw new ScpProtocolError("lost connection");
      return ok;
    }
    const rest = (await io.line()) ?? "";
    const type = String.fromCharCode(first);
    if (first === 1 || first === 2) {
      o.warn(rest);
      ok = false;
      if (first === 2) return false;
      continue;
    }
    if (type === "E") {
      await io.ok();
      if (depth === 0) throw new ScpProtocolError("protocol error: unexpected E");
      return ok;
    }
    if (type === "T") {
      const m = /^(\d+) 0 (\d+) 0$/.exec(rest);
      if (!m) return fatal(io, o, "protocol error: mtime.sec not delimited");
      times = { mtime: Number(m[1]), atime: Number(m[2]) };
      await io.ok();
      continue;
    }
    const m = CONTROL.exec(type + rest);
    if (!m) return fatal(io, o, `protocol error: expected control record`);
    const [, kind, modeText, sizeText, name] = m as unknown as [string, string, string, string, string];
    if (name === "" || name === "." || name === ".." || name.includes("/")) {
      return fatal(io, o, `error: unexpected filename: ${name}`);
    }
    if (depth === 0 && o.acceptTopLevel && !o.acceptTopLevel(name)) {
      return fatal(io, o, "protocol error: filename does not match request");
    }
    let mode = parseInt(modeText, 8);
    mode = o.preserve ? mode & 0o7777 : mode & 0o777 & ~umask;
    const dest = targetIsDir ? path.join(target, name) : target;
    if (kind === "D") {
      if (!o.recursive) return fatal(io, o, "received directory without -r");
      try {
        if (!fs.existsSync(dest)) fs.mkdirSync(dest, { mode: mode | 0o700 });
        else if (!fs.statSync(dest).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
      } catch (err) {
        await io.error(`${dest}: ${systemText(err)}`);
        o.warn(`scp: ${dest}: ${systemText(err)}`);
        return false;
      }
      await io.ok();
      const dirTimes = times;
      times = null;
      if (!(await receiveLevel(io, dest, true, depth + 1, o))) ok = false;
      if (o.preserve) fs.chmodSync(dest, mode);
      if (dirTimes) fs.utimesSync(dest, dirTimes.atime, dirTimes.mtime);
      continue;
    }
    const size = Number(sizeText);
    if (!Number.isSafeInteger(size)) return fatal(io, o, "protocol error: size not delimited");
    let fd: number | null = null;
    let writeError: unknown = null;
    try {
      fd = fs.openSync(dest, "w", mode | 0o200);
    } catch (err) {
      writeError = err;
    }
    await io.ok();
    const meter = o.onFile?.(name, size);
    let got = 0;
    await io.exact(size, (piece) => {
      got += piece.length;
      meter?.update(got);
      if (fd === null || writeError) return;
      try {
        fs.writeSync(fd, piece);
      } catch (err) {
        writeError = err;
      }
    });
    meter?.finish();
    const senderStatus = await io.response();
    if (fd !== null) {
      try {
        if (o.preserve || writeError === null) fs.fchmodSync(fd, mode);
        if (times) fs.futimesSync(fd, times.atime, times.mtime);
      } catch (err) {
        writeError ??= err;
      }
      fs.closeSync(fd);
    }
    times = null;
    if (senderStatus !== null) {
      // The sender could not read its file: what we wrote is not the file; say so.
      o.warn(senderStatus);
      ok = false;
    }
    if (writeError) {
      await io.error(`${dest}: ${systemText(writeError)}`);
      o.warn(`scp: ${dest}: ${systemText(writeError)}`);
      ok = false;
    } else {
      await io.ok();
    }
  }
}

async function fatal(io: ScpStream, o: SinkOptions, message: string): Promise<false> {
  o.warn(message);
  await io.error(message, true);
  io.end();
  return false;
}
