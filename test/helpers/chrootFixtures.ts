/**
 * ChrootDirectory test trees (root only). sshd's check (session.c safely_chroot) refuses a chroot path any
 * of whose components is writable by group or others: os.tmpdir() (/tmp, mode 1777) can never hold one,
 * so the trees are made under /run (root's, 0755, a tmpfs) and removed by remove(). A tree holds the
 * user's home (the user's own), a file to read, and on request a shell: Debian's static busybox when
 * installed (busybox-static), else /bin/sh, /usr/bin/id and /usr/bin/tty copied with the libraries ldd
 * names.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The parent of every tree: root-owned and 0755 all the way up, as safely_chroot wants. */
const BASE_PARENT = fs.existsSync("/run") ? "/run" : "/var/lib";

export interface ChrootBase {
  /** A root-owned 0755 folder; `${dir}/%u` is the usual ChrootDirectory. */
  dir: string;
  remove(): void;
}

export function makeChrootBase(): ChrootBase {
  const dir = fs.mkdtempSync(path.join(BASE_PARENT, "nssh-chroot-"));
  fs.chmodSync(dir, 0o755);
  const remove = (): void => {
    // Whatever a test mounted inside (a /dev/pts bind) goes first: never remove through a mount.
    const mounts = fs
      .readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(dir + "/"))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) {
      const r = spawnSync("umount", ["-l", m], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`umount ${m} failed (${r.stderr.trim()}): ${dir} is left in place`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { dir, remove };
}

export interface ChrootTree {
  /** The chroot directory (root's, 0755). */
  root: string;
  /** The user's home as seen from outside: `${root}${home}`. */
  homeOutside: string;
}

/**
 * `${base}/${user.name}`: root's and 0755, with the user's home inside (theirs, 0755) holding
 * hello.txt, and /etc/hostname-like marker file "inside.txt" at the top.
 */
export function makeChrootTree(
  base: string,
  user: { name: string; uid: number; gid: number; home: string },
  opts: { withHome?: boolean } = {},
): ChrootTree {
  const root = path.join(base, user.name);
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chmodSync(root, 0o755);
  fs.writeFileSync(path.join(root, "inside.txt"), "inside the chroot\n", { mode: 0o644 });
  const homeOutside = path.join(root, user.home);
  if (opts.withHome ?? true) {
    fs.mkdirSync(homeOutside, { recursive: true, mode: 0o755 });
    fs.chownSync(homeOutside, user.uid, user.gid);
    fs.writeFileSync(path.join(homeOutside, "hello.txt"), "hello from the chroot home\n");
    fs.chownSync(path.join(homeOutside, "hello.txt"), user.uid, user.gid);
  }
  return { root, homeOutside };
}

/** Which shell setup installShell can make here: "busybox" (static), "ldd" (copied), or null. */
export function shellSource(): "busybox" | "ldd" | null {
  const busybox = "/bin/busybox";
  if (fs.existsSync(busybox)) {
    const r = spawnSync("ldd", [busybox], { encoding: "utf8" });
    // ldd says "not a dynamic executable" (status 1) for a static program.
    if (r.status !== 0 || /not a dynamic executable|statically linked/.test(r.stdout + r.stderr))
      return "busybox";
  }
  return fs.existsSync("/bin/sh") && fs.existsSync("/usr/bin/id") ? "ldd" : null;
}

function copyInto(root: string, file: string): void {
  const target = path.join(root, file);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
  fs.copyFileSync(fs.realpathSync(file), target);
  fs.chmodSync(target, 0o755);
}

/** Put /bin/sh, /usr/bin/id and /usr/bin/tty into the tree, with what they need to run there. */
export function installShell(root: string): void {
  const source = shellSource();
  if (source === "busybox") {
    copyInto(root, "/bin/busybox");
    for (const applet of ["sh", "id", "pwd", "ls", "cat", "tty"]) {
      fs.symlinkSync("busybox", path.join(root, "bin", applet));
    }
    fs.mkdirSync(path.join(root, "usr", "bin"), { recursive: true, mode: 0o755 });
    fs.symlinkSync("/bin/busybox", path.join(root, "usr", "bin", "id"));
    return;
  }
  if (source === null) throw new Error("no shell to copy into a chroot");
  for (const program of ["/bin/sh", "/usr/bin/id", "/usr/bin/tty"]) {
    copyInto(root, program);
    const ldd = spawnSync("ldd", [program], { encoding: "utf8" });
    for (const m of ldd.stdout.matchAll(/(\/\S+)\s+\(0x/g)) {
      const lib = m[1]!;
      if (!fs.existsSync(path.join(root, lib))) copyInto(root, lib);
    }
  }
}
