/**
 * sftp/: the SFTP protocol version 3 with OpenSSH's extensions (protocol.ts, attrs.ts), the server that
 * answers it over any pair of streams (server.ts) on a filesystem interface (fileSystem.ts: the real disk
 * by default, or an in-memory one), and the session glue that serves it as the "sftp" subsystem.
 */
export * from "./attrs.js";
export * from "./protocol.js";
export * from "./packetParser.js";
export * from "./fileSystem.js";
export { DiskFileSystem } from "./fileSystemDisk.js";
export { MemoryFileSystem, type MemoryFileSystemOptions } from "./fileSystemMemory.js";
export { serveSftp, type SftpServerOptions } from "./server.js";
export { MAX_OPEN_HANDLES } from "./serverHandles.js";
export { handleSftpSubsystem, isSftpSubsystem, serveSftpSession } from "./serverSubsystem.js";
export {
  SftpClient,
  SftpHandle,
  SftpChannel,
  SftpError,
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  type SftpEntry,
  type OpenMode,
} from "./client.js";
export type { TransferOptions, TransferProgress } from "./clientTransfer.js";
