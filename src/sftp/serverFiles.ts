/**
 * The SFTP server's file requests on handles (filexfer-02 §6.3, §6.4): OPEN gives a file handle, READ and
 * WRITE work on it at an offset, CLOSE ends a file or directory handle. Each is logged as OpenSSH's
 * sftp-server logs it at its INFO level (byte counts at close).
 */
import type { SshReader } from "../wire/index.js";
import { decodeAttrs } from "./attrs.js";
import {
  MAX_PACKET_LENGTH,
  MAX_READ_LENGTH,
  OpenFlags,
  PacketType,
  StatusCode,
  encodeHandle,
  encodeStatus,
} from "./protocol.js";
import type { SftpServerSession } from "./server.js";
import { SftpStatusError } from "./serverStatus.js";

export async function openFile(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const p = s.readPath(r);
  const pflags = r.uint32();
  const attrs = decodeAttrs(r);
  const mode = s.applyUmask(attrs.mode !== undefined ? attrs.mode & 0o7777 : 0o666);
  s.log("info", `open "${p}" flags ${describeOpenFlags(pflags)} mode 0${mode.toString(8)}`);
  if (
    s.options.readOnly &&
    pflags & (OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT | OpenFlags.TRUNC)
  ) {
    s.log("info", "Refusing open request for writing in read-only mode");
    return encodeStatus(id, StatusCode.PERMISSION_DENIED);
  }
  if (s.handles.full) throw new SftpStatusError(StatusCode.FAILURE, "Too many open handles");
  const fsPath = s.paths.resolve(p);
  const file = await s.fs.open(fsPath, { flags: pflags, mode });
  const handle = s.handles.add({
    kind: "file",
    file,
    path: p,
    fsPath,
    flags: pflags,
    bytesRead: 0,
    bytesWritten: 0,
  });
  return encodeHandle(id, handle);
}

export async function closeHandle(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const entry = s.handles.remove(s.readHandle(r));
  if (!entry) throw new SftpStatusError(StatusCode.FAILURE, "Invalid handle");
  if (entry.kind === "file") {
    s.log("info", `close "${entry.path}" bytes read ${entry.bytesRead} written ${entry.bytesWritten}`);
    await entry.file.close();
  } else {
    s.log("info", `closedir "${entry.path}"`);
    await entry.dir.close();
  }
  return s.ok(id);
}

export async function readFile(s: SftpServerSession, id: number, r: SshReader): Promise<Buffer> {
  const handle = s.readHandle(r);
  const offset = r.uint64();
  // A READ for 4 GiB allocates no more than the cap: the reply is short, as filexfer-02 §6.4 allows.
  const length = Math.min(r.uint32(), MAX_READ_LENGTH);
  const h = s.lookupFile(handle);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return encodeStatus(id, StatusCode.EOF);
  if (length === 0) return encodeStatus(id, StatusCode.EOF);
  // The DATA header goes in front of the bytes in one buffer: the data is read straight into the packet.
  const packet = Buffer.allocUnsafe(13 + length);
  const n = await h.file.read(packet, 13, length, Number(offset));
  if (n === 0) return encodeStatus(id, StatusCode.EOF);
  h.bytesRead += n;
  packet.writeUInt32BE(9 + n, 0);
  packet[4] = PacketType.DATA;
  packet.writeUInt32BE(id, 5);
  packet.writeUInt32BE(n, 9);
  return packet.subarray(0, 13 + n);
}

/** WRITE; `parts` is its data when it came in several chunks (the reader then ends with the length). */
export async function writeFile(
  s: SftpServerSession,
  id: number,
  r: SshReader,
  parts?: Buffer[],
): Promise<Buffer> {
  const handle = s.readHandle(r);
  const offset = r.uint64();
  let data: Buffer | null = null;
  let length: number;
  if (parts)
    length = r.uint32(); // the parser checked it against the packet's length
  else {
    data = r.string(MAX_PACKET_LENGTH, "data");
    length = data.length;
  }
  const h = s.lookupFile(handle);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER))
    throw new SftpStatusError(StatusCode.FAILURE, "Offset too large");
  const at = Number(offset);
  if (data) await h.file.write(data, at);
  else if (h.file.writev) await h.file.writev(parts!, at);
  else {
    let pos = at;
    for (const part of parts!) {
      await h.file.write(part, pos);
      pos += part.length;
    }
  }
  h.bytesWritten += length;
  return s.ok(id);
}

function describeOpenFlags(pflags: number): string {
  const names: string[] = [];
  if (pflags & OpenFlags.READ) names.push("READ");
  if (pflags & OpenFlags.WRITE) names.push("WRITE");
  if (pflags & OpenFlags.APPEND) names.push("APPEND");
  if (pflags & OpenFlags.CREAT) names.push("CREATE");
  if (pflags & OpenFlags.TRUNC) names.push("TRUNCATE");
  if (pflags & OpenFlags.EXCL) names.push("EXCL");
  return names.join(",") || "0";
}
