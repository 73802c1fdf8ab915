#!/usr/bin/env node
/**
 * Builds nsshd's small native helpers (native/*.c) into native/build/: nssh-exec (run a session's program
 * as its user), nssh-pam-helper (one PAM transaction, linked with -lpam), nssh-chroot.node (a Node-API
 * addon with chroot(2) for ChrootDirectory), nssh-reexec.node (execv(2), for nsshd to start again with its
 * monitor's V8 options) and nssh-spawn.node (posix_spawn(3), for session processes to start programs
 * without a fork), all three built with -shared -fPIC and no node headers. Optional: without a C
 * compiler or the libpam headers (Debian: libpam0g-dev) it prints one line and exits 0, and nsshd falls
 * back to what Node can do alone. Never fails an install.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "native");
const out = path.join(src, "build");
const cc = process.env.CC || "cc";

function skip(why) {
  console.log(`nssh: native helpers not built (${why}); nsshd runs without PAM and identity changes`);
  process.exit(0);
}

if (process.platform !== "linux") skip(`not supported on ${process.platform}`);
if (spawnSync(cc, ["--version"], { stdio: "ignore" }).status !== 0) skip(`no C compiler "${cc}"`);

const targets = [
  { name: "nssh-exec", sources: ["nssh-exec.c"], libs: [] },
  { name: "nssh-pam-helper", sources: ["nssh-pam-helper.c"], libs: ["-lpam"], header: "security/pam_appl.h" },
  // Loaded by process.dlopen: its napi_* calls resolve against the node binary at load time.
  { name: "nssh-chroot.node", sources: ["nssh-chroot.c"], libs: [], shared: true },
  { name: "nssh-reexec.node", sources: ["nssh-reexec.c"], libs: [], shared: true },
  { name: "nssh-spawn.node", sources: ["nssh-spawn.c"], libs: [], shared: true },
];

fs.mkdirSync(out, { recursive: true });
// An undeclared function must fail the build, not load and die at its first call (nssh-spawn.c needs
// glibc >= 2.32, for posix_spawn_file_actions_addchdir_np and strerrorname_np; without it nsshd uses
// Node's spawn).
const flags = [
  "-O2",
  "-Wall",
  "-Wextra",
  "-Werror=implicit-function-declaration",
  "-D_FORTIFY_SOURCE=2",
  "-fstack-protector-strong",
];
const skipped = [];
for (const t of targets) {
  if (t.header) {
    const probe = spawnSync(cc, ["-E", "-x", "c", "-"], { input: `#include <${t.header}>\n`, stdio: "pipe" });
    if (probe.status !== 0) {
      skipped.push(`${t.name}: no <${t.header}> (install libpam0g-dev)`);
      continue;
    }
  }
  const output = path.join(out, t.name);
  const kind = t.shared ? ["-shared", "-fPIC"] : [];
  const r = spawnSync(
    cc,
    [...flags, ...kind, "-o", output, ...t.sources.map((s) => path.join(src, s)), ...t.libs],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) {
    skipped.push(`${t.name}: compiler failed: ${(r.stderr || "").trim().split("\n")[0]}`);
    continue;
  }
}
if (skipped.length) console.log(`nssh: native helpers partly built (${skipped.join("; ")})`);
