/**
 * Client paths to filesystem paths. The client sees a virtual tree: with a root (chroot-like), "/" is that
 * root and a path is normalised lexically before it is joined to it, so `..` stops at "/" and never leaves
 * the root. Relative paths are taken from the working directory (sftp-server's start directory, -d).
 * Symlinks on the real disk are followed by the kernel: a root given here bounds the names a client can
 * write, not what a symlink already inside it points at (a real chroot, as sshd's ChrootDirectory, does).
 */
import path from "node:path";
import { StatusCode } from "./protocol.js";
import { SftpStatusError } from "./serverStatus.js";

export class PathResolver {
  private readonly root: string | undefined;
  readonly cwd: string;

  constructor(root: string | undefined, cwd: string) {
    this.root = root === undefined || root === "/" ? undefined : path.posix.resolve(root);
    this.cwd = path.posix.resolve("/", cwd);
  }

  /** The absolute virtual path for what the client sent ("" is the working directory). */
  virtual(clientPath: string): string {
    if (clientPath.includes("\0"))
      throw new SftpStatusError(StatusCode.BAD_MESSAGE, "Path contains a NUL byte");
    return path.posix.resolve(this.cwd, clientPath === "" ? "." : clientPath);
  }

  /** The filesystem path of an absolute virtual path. */
  toFs(virtualPath: string): string {
    return this.root === undefined ? virtualPath : path.posix.join(this.root, virtualPath);
  }

  /** The client's path resolved all the way to the filesystem. */
  resolve(clientPath: string): string {
    return this.toFs(this.virtual(clientPath));
  }

  /** The virtual path of a filesystem path, or null when it lies outside the root. */
  fromFs(fsPath: string): string | null {
    if (this.root === undefined) return fsPath;
    if (fsPath === this.root) return "/";
    if (fsPath.startsWith(this.root + "/")) return fsPath.slice(this.root.length);
    return null;
  }
}
