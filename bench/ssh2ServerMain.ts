/**
 * The ssh2 library's server as a benchmark peer in its own process:
 * `node ssh2ServerMain.js <port> <hostKeyFile> <authorizedPublicKeyLine>`. Public key authentication for
 * that one key, exec run through child_process (`/bin/sh -c command`), and the SFTP requests that
 * ssh2's fastGet/fastPut and OpenSSH's sftp need for a get or put (ssh2's server side only parses SFTP;
 * the handlers here do the file work): OPEN, READ, WRITE, CLOSE, FSTAT, STAT, LSTAT, REALPATH, SETSTAT,
 * FSETSTAT. Prints "listening <port>".
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";
import type { Attributes, SFTPWrapper } from "ssh2";

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

const [portArg, hostKeyFile, authorizedLine] = process.argv.slice(2);
if (!portArg || !hostKeyFile || !authorizedLine) {
  console.error("usage: ssh2ServerMain.js <port> <hostKeyFile> <authorizedPublicKeyLine>");
  process.exit(2);
}
const allowed = utils.parseKey(authorizedLine);
if (allowed instanceof Error) throw allowed;
const allowedKey = Array.isArray(allowed) ? allowed[0]! : allowed;
const allowedBlob = allowedKey.getPublicSSH();

function toAttrs(st: fs.Stats): Attributes {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

function errorStatus(err: NodeJS.ErrnoException): number {
  if (err.code === "ENOENT") return STATUS.NO_SUCH_FILE;
  if (err.code === "EACCES" || err.code === "EPERM") return STATUS.PERMISSION_DENIED;
  return STATUS.FAILURE;
}

/** The minimal file server behind ssh2's SFTP parser: handles are 4-byte indexes into an fd table. */
function serveSftp(sftp: SFTPWrapper): void {
  const fds = new Map<number, number>();
  let next = 1;
  const handleOf = (fd: number): Buffer => {
    const id = next++;
    fds.set(id, fd);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(id);
    return h;
  };
  const fdOf = (handle: Buffer): number | undefined =>
    handle.length === 4 ? fds.get(handle.readUInt32BE(0)) : undefined;
  sftp.on("OPEN", (reqid, filename, flags) => {
    const mode = utils.sftp.flagsToString(flags);
    if (!mode) return sftp.status(reqid, STATUS.FAILURE);
    fs.open(filename, mode, 0o644, (err, fd) => {
      if (err) return sftp.status(reqid, errorStatus(err));
      sftp.handle(reqid, handleOf(fd));
    });
  });
  sftp.on("READ", (reqid, handle, offset, length) => {
    const fd = fdOf(handle);
    if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE);
    const buf = Buffer.allocUnsafe(Math.min(length, 256 * 1024));
    fs.read(fd, buf, 0, buf.length, offset, (err, n) => {
      if (err) return sftp.status(reqid, errorStatus(err));
      if (n === 0) return sftp.status(reqid, STATUS.EOF);
      sftp.data(reqid, buf.subarray(0, n));
    });
  });
  sftp.on("WRITE", (reqid, handle, offset, data) => {
    const fd = fdOf(handle);
    if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE);
    fs.write(fd, data, 0, data.length, offset, (err) =>
      sftp.status(reqid, err ? errorStatus(err) : STATUS.OK),
    );
  });
  sftp.on("CLOSE", (reqid, handle) => {
    const fd = fdOf(handle);
    if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE);
    fds.delete(handle.readUInt32BE(0));
    fs.close(fd, (err) => sftp.status(reqid, err ? errorStatus(err) : STATUS.OK));
  });
  sftp.on("FSTAT", (reqid, handle) => {
    const fd = fdOf(handle);
    if (fd === undefined) return sftp.status(reqid, STATUS.FAILURE);
    fs.fstat(fd, (err, st) => (err ? sftp.status(reqid, errorStatus(err)) : sftp.attrs(reqid, toAttrs(st))));
  });
  const stat = (reqid: number, p: string, follow: boolean): void => {
    (follow ? fs.stat : fs.lstat)(p, (err, st) =>
      err ? sftp.status(reqid, errorStatus(err)) : sftp.attrs(reqid, toAttrs(st)),
    );
  };
  sftp.on("STAT", (reqid, p) => stat(reqid, p, true));
  sftp.on("LSTAT", (reqid, p) => stat(reqid, p, false));
  sftp.on("REALPATH", (reqid, p) => {
    const resolved = path.resolve(process.env.HOME ?? "/", p || ".");
    sftp.name(reqid, [{ filename: resolved, longname: resolved, attrs: {} as Attributes }]);
  });
  // Attributes after a put (scp -p, sftp's chmod): accepted and not applied, as /dev/null ignores them.
  sftp.on("SETSTAT", (reqid) => sftp.status(reqid, STATUS.OK));
  sftp.on("FSETSTAT", (reqid) => sftp.status(reqid, STATUS.OK));
  for (const op of [
    "OPENDIR",
    "READDIR",
    "REMOVE",
    "RMDIR",
    "MKDIR",
    "RENAME",
    "READLINK",
    "SYMLINK",
  ] as const)
    sftp.on(op, (reqid: number) => sftp.status(reqid, STATUS.OP_UNSUPPORTED));
  // The client's EOF ends the subsystem: close our side too, or the client waits for the channel forever.
  sftp.on("end", () => sftp.end());
  sftp.on("close", () => {
    for (const fd of fds.values()) fs.close(fd, () => {});
    fds.clear();
  });
}

const server = new Server({ hostKeys: [fs.readFileSync(hostKeyFile)] }, (client) => {
  client.on("authentication", (ctx) => {
    if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
    if (ctx.key.algo !== allowedKey.type || !ctx.key.data.equals(allowedBlob)) return ctx.reject();
    if (!ctx.signature) return ctx.accept(); // the query: this key would do
    if (ctx.blob && allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
    ctx.reject();
  });
  client.on("ready", () => {
    client.on("session", (acceptSession) => {
      const session = acceptSession();
      session.on("exec", (accept, _reject, info) => {
        const stream = accept();
        const child = spawn("/bin/sh", ["-c", info.command], { stdio: ["pipe", "pipe", "pipe"] });
        stream.pipe(child.stdin);
        child.stdout.pipe(stream, { end: false });
        child.stderr.pipe(stream.stderr, { end: false });
        child.stdin.on("error", () => {}); // the command may exit without reading all of stdin (EPIPE)
        child.on("close", (code, signal) => {
          if (code !== null) stream.exit(code);
          else stream.exit(signal ?? "KILL", false, "");
          stream.end();
        });
      });
      session.on("sftp", (accept) => serveSftp(accept()));
    });
  });
  client.on("error", (err) => console.error(`ssh2ServerMain: client: ${err.message}`));
});
server.listen(Number(portArg), "127.0.0.1", () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
