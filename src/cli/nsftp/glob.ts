/**
 * glob(3) for nsftp's operands (sftp(1): "remote-path may contain glob(7) characters"), on any directory
 * lister: remote through SFTP READDIR, local through fs. `*`, `?` and `[...]` match within one path
 * component, a leading dot only when the pattern has one, and a backslash escapes the next character.
 */
import fs from "node:fs";

export function hasGlob(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "*" || c === "?" || c === "[") return true;
  }
  return false;
}

/** Remove backslash escapes. */
export function unescapeGlob(s: string): string {
  return s.replace(/\\(.)/g, "$1");
}

/** fnmatch(3) of one component, without FNM_PATHNAME subtleties (no `/` inside a component). */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]!);
    } else if (c === "*") {
      re += "[^/]*";
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/\\/g, "\\\\").replace(/\]/g, "\\]")}]`;
      i = close;
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(`^${re}$`, "s");
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Names in a directory (without "." and ".."), or null when it cannot be listed. */
export type DirectoryLister = (dir: string) => Promise<string[] | null>;

/**
 * Expand `pattern` (absolute, or relative to nothing: the caller joins the working directory first).
 * A pattern without glob characters comes back as itself, unescaped; a glob that matches nothing gives [].
 */
export async function expandGlob(pattern: string, list: DirectoryLister): Promise<string[]> {
  if (!hasGlob(pattern)) return [unescapeGlob(pattern)];
  const absolute = pattern.startsWith("/");
  const parts = pattern.split("/").filter((p, i) => p !== "" || i === 0);
  let bases: string[] = [absolute ? "/" : ""];
  let expanded = false;
  for (let i = absolute ? 1 : 0; i < parts.length; i++) {
    const part = parts[i]!;
    const next: string[] = [];
    for (const base of bases) {
      if (!hasGlob(part)) {
        const name = unescapeGlob(part);
        // After a wildcard, a plain component must exist under each match (it may be a file, not a directory).
        if (expanded && !(await list(base === "" ? "." : base))?.includes(name)) continue;
        next.push(join(base, name));
        continue;
      }
      expanded = true;
      const names = await list(base === "" ? "." : base);
      if (!names) continue;
      const re = globToRegExp(part);
      const dotOk = part.startsWith(".");
      for (const n of names.sort()) {
        if (n === "." || n === "..") continue;
        if (n.startsWith(".") && !dotOk) continue;
        if (re.test(n)) next.push(join(base, n));
      }
    }
    bases = next;
    if (bases.length === 0) break;
  }
  return bases;
}

function join(base: string, name: string): string {
  if (base === "") return name;
  return base.endsWith("/") ? base + name : `${base}/${name}`;
}

export const localLister: DirectoryLister = async (dir) => {
  try {
    return await fs.promises.readdir(dir);
  } catch {
    return null; // an unreadable directory matches nothing, as glob(3) without GLOB_ERR
  }
};
