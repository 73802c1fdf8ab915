/**
 * Test helpers: run the real OpenSSH ssh-keygen (never on a terminal: stdin is closed so a missing -P can
 * not hang on a prompt) and make temporary directories. Not a test file itself.
 */
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Run ssh-keygen and return its stdout; a non-zero exit rejects with stderr in the message. */
export async function sshKeygen(args: string[]): Promise<string> {
  const child = execFileAsync("ssh-keygen", args, { encoding: "utf8" });
  child.child.stdin?.end();
  return (await child).stdout;
}

export function sshKeygenSync(args: string[]): string {
  return execFileSync("ssh-keygen", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** ssh-keygen's exit status and stderr, for the cases where it is expected to fail. */
export function sshKeygenStatus(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync("ssh-keygen", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { status: 0, stderr: "" };
  } catch (err) {
    const e = err as { status: number | null; stderr: string };
    return { status: e.status, stderr: e.stderr };
  }
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Run `fn` over `items` with at most `limit` at a time (keeps a 2-CPU machine from thrashing). */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Key kinds as ssh-keygen -t/-b name them. */
export interface KeySpec {
  readonly name: string;
  readonly args: readonly string[];
}

export const KEY_SPECS: readonly KeySpec[] = [
  { name: "ed25519", args: ["-t", "ed25519"] },
  { name: "ecdsa256", args: ["-t", "ecdsa", "-b", "256"] },
  { name: "ecdsa384", args: ["-t", "ecdsa", "-b", "384"] },
  { name: "ecdsa521", args: ["-t", "ecdsa", "-b", "521"] },
  { name: "rsa2048", args: ["-t", "rsa", "-b", "2048"] },
  { name: "rsa4096", args: ["-t", "rsa", "-b", "4096"] },
];
