/**
 * nsftp's tab completion on a terminal (sftp.c complete()): command names for the first word, then remote
 * names through READDIR, or local names for lcd, lls, lmkdir and put's first operand; special characters
 * in a completed name are escaped as the command line splitter expects.
 */
import fs from "node:fs";
import { isDirectoryMode } from "../../sftp/attrs.js";
import type { SftpClient } from "../../sftp/client.js";
import { COMMANDS } from "./commandLine.js";

export async function completeLine(
  client: SftpClient,
  abs: (p: string) => string,
  line: string,
): Promise<[string[], string]> {
  const words = line.split(/\s+/);
  const word = words.at(-1) ?? "";
  if (words.length <= 1) return [COMMANDS.filter((c) => c.startsWith(word)), word];
  const cmd = words[0]!.toLowerCase();
  const local =
    ["lcd", "lls", "lmkdir"].includes(cmd) || ((cmd === "put" || cmd === "reput") && words.length === 2);
  const slash = word.lastIndexOf("/");
  const dirPart = slash >= 0 ? word.slice(0, slash + 1) : "";
  const prefix = word.slice(slash + 1);
  let names: Array<{ name: string; dir: boolean }> = [];
  try {
    if (local) {
      names = fs
        .readdirSync(dirPart || ".", { withFileTypes: true })
        .map((d) => ({ name: d.name, dir: d.isDirectory() }));
    } else {
      const entries = await client.readdir(abs(dirPart || "."));
      names = entries.map((e) => ({ name: e.filename, dir: isDirectoryMode(e.attrs.mode) }));
    }
  } catch {
    return [[], word]; // nothing to offer for a directory that cannot be listed
  }
  const hits = names
    .filter((n) => n.name !== "." && n.name !== ".." && n.name.startsWith(prefix))
    .filter((n) => prefix.startsWith(".") || !n.name.startsWith("."))
    .map((n) => dirPart + n.name.replace(/([\s\\*?[\]'"])/g, "\\$1") + (n.dir ? "/" : ""))
    .sort();
  return [hits, word];
}
