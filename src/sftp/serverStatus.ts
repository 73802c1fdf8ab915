/**
 * How the SFTP server turns failures into STATUS replies: errno names as OpenSSH's errno_to_portable()
 * maps them (sftp-server.c), and SftpStatusError for answers a handler decides itself.
 */
import { SshError } from "../wire/index.js";
import { StatusCode } from "./protocol.js";

/** A handler's decided answer: this status code and message. */
export class SftpStatusError extends Error {
  constructor(
    readonly status: number,
    message?: string,
  ) {
    super(message ?? `SFTP status ${status}`);
    this.name = "SftpStatusError";
  }
}

/** errno name → status code (sftp-server.c errno_to_portable; unsupported operations as OP_UNSUPPORTED). */
export function statusForErrno(code: string | undefined): number {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
    case "EBADF":
    case "ELOOP":
      return StatusCode.NO_SUCH_FILE;
    case "EPERM":
    case "EACCES":
    case "EFAULT":
      return StatusCode.PERMISSION_DENIED;
    case "ENAMETOOLONG":
    case "EINVAL":
      return StatusCode.BAD_MESSAGE;
    case "ENOSYS":
    case "ENOTSUP":
    case "EOPNOTSUPP":
      return StatusCode.OP_UNSUPPORTED;
    default:
      return StatusCode.FAILURE;
  }
}

/** The status (and, for a handler's own decision, the message) for anything a request handler threw. */
export function statusForError(err: unknown): { status: number; message?: string } {
  if (err instanceof SftpStatusError) return { status: err.status, message: err.message };
  if (err instanceof SshError && err.code === "MALFORMED") return { status: StatusCode.BAD_MESSAGE };
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return { status: statusForErrno(typeof code === "string" ? code : undefined) };
}
