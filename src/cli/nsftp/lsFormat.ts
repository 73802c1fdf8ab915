/**
 * nsftp's `ls` output as OpenSSH's sftp prints it (sftp.c do_ls_dir): names in columns across the
 * terminal width (80 when not a terminal), one a line with -1, or `ls -l` lines: the server's longname for
 * a directory listing, and ls_file()'s format built from the attributes otherwise or with -h / -n.
 */
import { formatLongname } from "../../sftp/attrs.js";
import type { SftpEntry } from "../../sftp/client.js";

export interface LsFlags {
  long: boolean;
  all: boolean;
  human: boolean;
  numeric: boolean;
  sortTime: boolean;
  sortSize: boolean;
  noSort: boolean;
  reverse: boolean;
  onePerLine: boolean;
}

export function parseLsFlags(args: string[]): { flags: LsFlags; rest: string[] } | string {
  const flags: LsFlags = {
    long: false,
    all: false,
    human: false,
    numeric: false,
    sortTime: false,
    sortSize: false,
    noSort: false,
    reverse: false,
    onePerLine: false,
  };
  let i = 0;
  for (; i < args.length && args[i]!.startsWith("-") && args[i] !== "-"; i++) {
    for (const c of args[i]!.slice(1)) {
      if (c === "l") flags.long = true;
      else if (c === "a") flags.all = true;
      else if (c === "h") flags.human = true;
      else if (c === "n") ((flags.numeric = true), (flags.long = true));
      else if (c === "t") flags.sortTime = true;
      else if (c === "S") flags.sortSize = true;
      else if (c === "f") flags.noSort = true;
      else if (c === "r") flags.reverse = true;
      else if (c === "1") flags.onePerLine = true;
      else return `ls: Invalid flag -${c}`;
    }
  }
  return { flags, rest: args.slice(i) };
}

/** fmt_scaled(3) as ls -h shows sizes: "1.5K", "20M", bytes below 1 KiB as they are. */
export function humanSize(n: number): string {
  const units = ["B", "K", "M", "G", "T", "P", "E"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n}B`;
  return v < 100 ? `${v.toFixed(1)}${units[i]}` : `${Math.round(v)}${units[i]}`;
}

function sortEntries(entries: SftpEntry[], flags: LsFlags): SftpEntry[] {
  if (flags.noSort) return entries;
  const sorted = [...entries];
  if (flags.sortTime) sorted.sort((a, b) => (b.attrs.mtime ?? 0) - (a.attrs.mtime ?? 0));
  else if (flags.sortSize) sorted.sort((a, b) => (b.attrs.size ?? 0) - (a.attrs.size ?? 0));
  else sorted.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  if (flags.reverse) sorted.reverse();
  return sorted;
}

/** The lines (without trailing newlines joined) for a list of entries. */
export function formatListing(
  entries: SftpEntry[],
  flags: LsFlags,
  width: number,
  useLongname: boolean,
  names?: { users: Map<number, string>; groups: Map<number, string> },
): string {
  const shown = sortEntries(
    entries.filter((e) => flags.all || !e.filename.startsWith(".")),
    flags,
  );
  if (shown.length === 0) return "";
  if (flags.long) {
    return (
      shown
        .map((e) => {
          if (useLongname && e.longname && !flags.human && !flags.numeric) return e.longname;
          let line = formatLongname(e.filename, {
            mode: e.attrs.mode ?? 0,
            uid: e.attrs.uid ?? 0,
            gid: e.attrs.gid ?? 0,
            ...(!flags.numeric && names?.users.get(e.attrs.uid ?? 0)
              ? { user: names.users.get(e.attrs.uid ?? 0)! }
              : {}),
            ...(!flags.numeric && names?.groups.get(e.attrs.gid ?? 0)
              ? { group: names.groups.get(e.attrs.gid ?? 0)! }
              : {}),
            size: e.attrs.size ?? 0,
            mtime: e.attrs.mtime ?? 0,
          });
          // Attributes carry no link count: OpenSSH's sftp shows "?" there.
          line = line.replace(/^(\S+ +)1 /, "$1? ");
          if (!flags.human) return line;
          // ls -lh: the size column as fmt_scaled, right-aligned in its 8 places.
          const m = /^(\S+\s+\S+\s+\S+\s+\S+\s+)(\d+)(.*)$/.exec(line);
          return m ? `${m[1]}${humanSize(Number(m[2])).padStart(m[2]!.length)}${m[3]}` : line;
        })
        .join("\n") + "\n"
    );
  }
  if (flags.onePerLine) return shown.map((e) => e.filename).join("\n") + "\n";
  const maxLen = Math.max(...shown.map((e) => e.filename.length));
  const colWidth = maxLen + 2;
  const columns = Math.max(1, Math.floor(width / colWidth));
  // As sftp's do_ls_dir: every name padded to the column width, a newline after each full row and at the end.
  let out = "";
  shown.forEach((e, i) => {
    out += e.filename.padEnd(colWidth);
    if ((i + 1) % columns === 0) out += "\n";
  });
  if (shown.length % columns !== 0) out += "\n";
  return out;
}
