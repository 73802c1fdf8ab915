/**
 * A session process confining itself to a ChrootDirectory before it becomes the user (sshd's
 * do_setusercontext: chroot as root, then setuid). After chroot(2) nothing outside the new root can be
 * read, so whatever the process loads from disk later must be loaded first: every module is a static
 * import already, and what loads on first use is used once here: node-pty (by starting one throwaway
 * program on a PTY, when the chroot has the /dev/ptmx that a PTY inside it needs at all) and the key
 * exchange methods whose KEM implementations load when an exchange first needs them (a re-key here).
 */
import fs from "node:fs";
import path from "node:path";
import { KEX_ALGORITHMS } from "../../crypto/index.js";
import { startProcess } from "../../session/index.js";
import { checkChrootDirectory, enterChroot } from "../chroot.js";

async function preloadPty(): Promise<void> {
  try {
    const p = await startProcess({
      command: null,
      shell: "/bin/true",
      env: {},
      cwd: "/",
      pty: { term: "dumb", cols: 1, rows: 1 },
    });
    p.stdout.resume();
    await p.exited;
  } catch {
    // node-pty is not installed: PTY sessions fail inside the chroot as they would outside, with its message
  }
}

/**
 * One exchange of each KEM family (ML-KEM, Streamlined NTRU Prime), server side as a re-key here would run
 * it: their implementations are modules loaded on first use. The others are Node's crypto, loaded already.
 */
function preloadKems(): void {
  const families = new Set<string>();
  for (const kex of KEX_ALGORITHMS) {
    const family = /^(mlkem|sntrup)/.exec(kex.name)?.[1];
    if (!family || families.has(family) || !kex.createClient || !kex.createServer) continue;
    families.add(family);
    try {
      kex.createServer().respond(kex.createClient().publicValue);
    } catch (err) {
      // Not fatal here: a re-key with this method would fail the same way, and say why then.
      process.emitWarning(`nsshd session: ${kex.name} did not load before chroot: ${(err as Error).message}`);
    }
  }
}

/** Check the directory as sshd does, load what later sessions need, then chroot this process to it. */
export async function confineSession(dir: string): Promise<void> {
  await checkChrootDirectory(dir);
  if (fs.existsSync(path.join(dir, "dev", "ptmx"))) await preloadPty();
  preloadKems();
  enterChroot(dir);
}
