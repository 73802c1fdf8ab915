/**
 * The client's typed SFTP error: a failed request carries the server's status code (filexfer-02 §7), the
 * path it concerned and the operation; its message is what OpenSSH's sftp prints for the code (fx2txt()).
 */

/** Re-exported under the client's names: the protocol's packet types and status codes. */
export { PacketType as FXP, StatusCode as SftpStatus, OpenFlags } from "./protocol.js";
import { StatusCode } from "./protocol.js";
export type SftpStatusCode = number;

const STATUS_TEXT: Record<number, string> = {
  0: "No error",
  1: "End of file",
  2: "No such file or directory",
  3: "Permission denied",
  4: "Failure",
  5: "Bad message",
  6: "No connection",
  7: "Connection lost",
  8: "Operation unsupported",
};

/** "NO_SUCH_FILE" for 2, ...: the protocol's own names of the codes. */
const STATUS_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(StatusCode).map(([name, code]) => [code, name]),
);

/** OpenSSH's fx2txt(): the text sftp prints for a status code. */
export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? "Unknown status";
}

export class SftpError extends Error {
  /** The SSH_FX_* status code. */
  readonly status: number;
  /** Its name: "NO_SUCH_FILE", "PERMISSION_DENIED", ... */
  readonly code: string;
  /** The server's own message (often empty or the same as the code's text). */
  readonly serverMessage: string;
  readonly path: string | undefined;
  readonly operation: string | undefined;

  constructor(status: number, serverMessage = "", path?: string, operation?: string) {
    super(statusText(status) === "Unknown status" && serverMessage ? serverMessage : statusText(status));
    this.name = "SftpError";
    this.status = status;
    this.code = STATUS_NAME[status] ?? `STATUS_${status}`;
    this.serverMessage = serverMessage;
    this.path = path;
    this.operation = operation;
  }
}
