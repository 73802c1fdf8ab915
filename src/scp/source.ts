/**
 * The sending side of the legacy SCP protocol (scp.c source()/rsource(), what `scp -f` runs): for each
 * path, "T<mtime> 0 <atime> 0" with preserve, "C<mode> <size> <name>" and the bytes then a zero byte, or
 * "D<mode> 0 <name>" ... "E" for a directory with recursive; every line waits for the sink's response.
 */
import fs from "node:fs";
import path from "node:path";
import { ScpProtocolError, type ScpStream } from "./scpStream.js";

export interface SourceOptions {
  recursive: boolean;
  preserve: boolean;
  /** Report a problem on this side (scp prints "scp: ..." on stderr). */
  warn: (message: string) => void;
  /** Called as each file's bytes go out (for the progress meter). */
  onFile?: (name: string, size: number) => { update(sent: number): void; finish(): void };
}

/** Send `paths`; the caller has already had the sink's first response. Returns false when any failed. */
export async function scpSend(io: ScpStream, paths: string[], o: SourceOptions): Promise<boolean> {
  let ok = true;
  for (const p of paths) {
    if (!(await sendOne(io, p, o))) ok = false;
  }
  return ok;
}

async function reportAndTell(io: ScpStream, o: SourceOptions, message: string): Promise<false> {
  // As scp.c run_err(): the sink gets "scp: message", our own stderr the bare message.
  o.warn(message);
  await io.error(message);
  return false;
}

async function expectOk(io: ScpStream, o: SourceOptions): Promise<boolean> {
  const r = await io.response();
  if (r === null) return true;
  o.warn(r);
  return false;
}

async function sendOne(io: ScpStream, p: string, o: SourceOptions): Promise<boolean> {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    return reportAndTell(io, o, `${p}: ${systemText(err)}`);
  }
  const name = path.basename(p.replace(/\/+$/, "")) || p;
  if (st.isDirectory()) {
    if (!o.recursive) return reportAndTell(io, o, `${p}: not a regular file`);
    if (o.preserve && !(await sendTimes(io, o, st))) return false;
    await io.write(`D${octal(st.mode)} 0 ${name}\n`);
    if (!(await expectOk(io, o))) return false;
    let ok = true;
    for (const child of fs.readdirSync(p).sort()) {
      if (!(await sendOne(io, path.join(p, child), o))) ok = false;
    }
    await io.write("E\n");
    return (await expectOk(io, o)) && ok;
  }
  if (!st.isFile()) return reportAndTell(io, o, `${p}: not a regular file`);
  let fd: number;
  try {
    fd = fs.openSync(p, "r");
  } catch (err) {
    return reportAndTell(io, o, `${p}: ${systemText(err)}`);
  }
  try {
    if (o.preserve && !(await sendTimes(io, o, st))) return false;
    await io.write(`C${octal(st.mode)} ${st.size} ${name}\n`);
    if (!(await expectOk(io, o))) return false;
    const meter = o.onFile?.(name, st.size);
    const buf = Buffer.allocUnsafe(256 * 1024);
    let sent = 0;
    let readError: unknown = null;
    while (sent < st.size) {
      let n = 0;
      if (readError === null) {
        try {
          n = fs.readSync(fd, buf, 0, Math.min(buf.length, st.size - sent), sent);
        } catch (err) {
          readError = err;
        }
      }
      // A file that shrank or failed mid-way: the promised size still goes out (zeros), then an error.
      if (n === 0) {
        readError ??= new Error("file changed size");
        n = Math.min(buf.length, st.size - sent);
        buf.fill(0, 0, n);
      }
      await io.write(Buffer.from(buf.subarray(0, n)));
      sent += n;
      meter?.update(sent);
    }
    meter?.finish();
    if (readError !== null) {
      await io.error(`${p}: ${systemText(readError)}`);
      o.warn(`${p}: ${systemText(readError)}`);
      await io.response().catch(() => null);
      return false;
    }
    await io.ok();
    return expectOk(io, o);
  } finally {
    fs.closeSync(fd);
  }
}

async function sendTimes(io: ScpStream, o: SourceOptions, st: fs.Stats): Promise<boolean> {
  await io.write(`T${Math.floor(st.mtimeMs / 1000)} 0 ${Math.floor(st.atimeMs / 1000)} 0\n`);
  return expectOk(io, o);
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

export function systemText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const known: Record<string, string> = {
    ENOENT: "No such file or directory",
    EACCES: "Permission denied",
    EISDIR: "Is a directory",
    ENOTDIR: "Not a directory",
    ENOSPC: "No space left on device",
    EEXIST: "File exists",
  };
  if (code && known[code]) return known[code];
  if (err instanceof ScpProtocolError) return err.message;
  return (err as Error)?.message ?? String(err);
}
