/**
 * nsftp's command interpreter: the interactive and batch commands of sftp(1) ("INTERACTIVE COMMANDS"),
 * with OpenSSH's messages, on an SftpClient. execute() runs one line and says whether it succeeded, which
 * batch mode uses to abort (sftp -b).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isDirectoryMode } from "../../sftp/attrs.js";
import { SftpError, type SftpClient, type SftpEntry } from "../../sftp/client.js";
import { HELP, splitArgs } from "./commandLine.js";
import { completeLine } from "./completion.js";
import { expandGlob, hasGlob, localLister, unescapeGlob } from "./glob.js";
import { formatListing, humanSize, parseLsFlags } from "./lsFormat.js";
import { downloadPath, errorText, uploadPath, type TreeOptions } from "./treeTransfer.js";

export interface SessionSettings {
  recursive: boolean;
  preserve: boolean;
  resume: boolean;
  fsync: boolean;
  progress: boolean;
  quiet: boolean;
  requests?: number;
  blockSize?: number;
  limitKbps?: number;
}

export class SftpInterpreter {
  cwd = "/";
  private readonly home: string;
  quit = false;

  constructor(
    readonly client: SftpClient,
    readonly settings: SessionSettings,
    private readonly out: NodeJS.WriteStream | NodeJS.WritableStream,
    private readonly err: NodeJS.WritableStream,
    home: string,
  ) {
    this.home = home;
    this.cwd = home;
  }

  private say(text: string): void {
    this.out.write(text);
  }

  private error(text: string): void {
    this.err.write(`${text}\n`);
  }

  /** A remote path made absolute against the working directory. */
  abs(p: string): string {
    if (p.startsWith("/")) return p;
    if (p === "~" || p.startsWith("~/")) return path.posix.join(this.home, p.slice(1));
    return this.cwd.endsWith("/") ? this.cwd + p : `${this.cwd}/${p}`;
  }

  private async remoteGlob(pattern: string): Promise<string[]> {
    return expandGlob(this.abs(pattern), async (dir) => {
      try {
        return (await this.client.readdir(dir)).map((e) => e.filename);
      } catch {
        return null; // an unreadable directory matches nothing
      }
    });
  }

  /**
   * Remote matches of a pattern; prints `File "x" not found.` when a glob matches nothing. A plain path
   * comes back as itself unless `mustExist` (then a missing one is "not found" too, as get's remote_glob).
   */
  private async remoteMatches(pattern: string, mustExist = false): Promise<string[] | null> {
    const matches = await this.remoteGlob(pattern);
    if (!hasGlob(pattern) && mustExist) {
      try {
        await this.client.lstat(matches[0]!);
      } catch {
        this.error(`File "${matches[0]}" not found.`);
        return null;
      }
    }
    if (matches.length === 0) {
      this.error(`File "${this.abs(unescapeGlob(pattern))}" not found.`);
      return null;
    }
    return matches;
  }

  private async isRemoteDir(p: string): Promise<boolean> {
    try {
      return isDirectoryMode((await this.client.stat(p)).mode);
    } catch {
      return false;
    }
  }

  private treeOptions(flags: Set<string>, resume: boolean): TreeOptions {
    const s = this.settings;
    const o: TreeOptions = {
      recursive: s.recursive || flags.has("r") || flags.has("R"),
      preserve: s.preserve || flags.has("p") || flags.has("P"),
      resume: resume || s.resume || flags.has("a"),
      fsync: s.fsync || flags.has("f"),
      progress: s.progress && !s.quiet,
      out: this.out,
      warn: (m) => this.error(m),
      verboseDirs: true,
    };
    if (s.requests) o.requests = s.requests;
    if (s.blockSize) o.blockSize = s.blockSize;
    if (s.limitKbps) o.limitKbps = s.limitKbps;
    return o;
  }

  /** Run one command line. Returns false when it failed. */
  async execute(line: string): Promise<boolean> {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return true;
    if (trimmed.startsWith("!")) return this.shell(trimmed.slice(1));
    const parsed = splitArgs(trimmed);
    if (typeof parsed === "string") {
      this.error(parsed);
      return false;
    }
    const [cmd, ...args] = parsed;
    try {
      return await this.dispatch(cmd!.toLowerCase(), args);
    } catch (err) {
      this.error(err instanceof SftpError ? `${cmd}: ${err.message}` : errorText(err));
      return false;
    }
  }

  /** Flags like "-afpR" at the front of args; returns the set and the rest, or an error line. */
  private flags(cmd: string, args: string[], allowed: string): { set: Set<string>; rest: string[] } | null {
    const set = new Set<string>();
    let i = 0;
    for (; i < args.length && /^-./.test(args[i]!); i++) {
      if (args[i] === "--") {
        i++;
        break;
      }
      for (const c of args[i]!.slice(1)) {
        if (!allowed.includes(c)) {
          this.error(`${cmd}: Invalid flag -${c}`);
          return null;
        }
        set.add(c);
      }
    }
    return { set, rest: args.slice(i) };
  }

  private async dispatch(cmd: string, args: string[]): Promise<boolean> {
    switch (cmd) {
      case "bye":
      case "exit":
      case "quit":
        this.quit = true;
        return true;
      case "help":
      case "?":
        this.say(HELP);
        return true;
      case "version":
        this.say(`SFTP protocol version ${this.client.version}\n`);
        return true;
      case "progress":
        this.settings.progress = !this.settings.progress;
        this.say(`Progress meter ${this.settings.progress ? "enabled" : "disabled"}\n`);
        return true;
      case "pwd":
        this.say(`Remote working directory: ${this.cwd}\n`);
        return true;
      case "lpwd":
        this.say(`Local working directory: ${process.cwd()}\n`);
        return true;
      case "cd":
        return this.cd(args[0] ?? this.home);
      case "lcd":
        try {
          process.chdir(args[0] ? unescapeGlob(args[0]).replace(/^~(?=\/|$)/, os.homedir()) : os.homedir());
          return true;
        } catch (err) {
          this.error(`Couldn't change local directory to "${args[0]}": ${errorText(err)}`);
          return false;
        }
      case "lmkdir":
        if (!args[0]) return this.usage("lmkdir");
        try {
          fs.mkdirSync(unescapeGlob(args[0]), 0o777);
          return true;
        } catch (err) {
          this.error(`Couldn't create local directory "${args[0]}": ${errorText(err)}`);
          return false;
        }
      case "lumask": {
        const m = args[0] !== undefined ? parseInt(args[0], 8) : NaN;
        if (Number.isNaN(m) || m < 0 || m > 0o777) {
          this.error("Invalid umask");
          return false;
        }
        process.umask(m);
        this.say(`Local umask: ${m.toString(8).padStart(3, "0")}\n`);
        return true;
      }
      case "lls":
        return this.localCommand(["ls", ...args.map(unescapeGlob)].join(" "));
      case "ls":
        return this.ls(args);
      case "mkdir":
        if (!args[0]) return this.usage("mkdir");
        try {
          await this.client.mkdir(this.abs(unescapeGlob(args[0])), { mode: 0o777 });
          return true;
        } catch (err) {
          this.error(`remote mkdir "${this.abs(unescapeGlob(args[0]))}": ${errorText(err)}`);
          return false;
        }
      case "rmdir":
        if (!args[0]) return this.usage("rmdir");
        try {
          await this.client.rmdir(this.abs(unescapeGlob(args[0])));
          return true;
        } catch (err) {
          this.error(`remote rmdir "${this.abs(unescapeGlob(args[0]))}": ${errorText(err)}`);
          return false;
        }
      case "rm":
        return this.rm(args);
      case "rename":
        return this.rename(args);
      case "ln":
      case "symlink":
        return this.link(cmd, args);
      case "chmod":
      case "chown":
      case "chgrp":
        return this.setAttr(cmd, args);
      case "df":
        return this.df(args);
      case "get":
      case "reget":
        return this.get(cmd, args);
      case "put":
      case "reput":
        return this.put(cmd, args);
      default:
        this.error("Invalid command.");
        return false;
    }
  }

  private usage(cmd: string): false {
    this.error(`You must specify a path after a ${cmd} command.`);
    return false;
  }

  private shell(command: string): boolean {
    if (command.trim() === "") return this.localCommand(process.env.SHELL ?? "/bin/sh", true);
    return this.localCommand(command);
  }

  private localCommand(command: string, interactive = false): boolean {
    const r = interactive
      ? spawnSync(command, [], { stdio: "inherit" })
      : spawnSync("/bin/sh", ["-c", command], { stdio: ["inherit", "pipe", "inherit"] });
    if (!interactive && r.stdout) this.out.write(r.stdout);
    if (r.status !== 0 && !interactive) {
      this.error(`Shell exited with status ${r.status ?? 255}`);
    }
    return true;
  }

  private async cd(target: string): Promise<boolean> {
    const p = this.abs(unescapeGlob(target));
    let real: string;
    try {
      real = await this.client.realpath(p);
    } catch (err) {
      this.error(`stat remote: ${errorText(err)}`);
      return false;
    }
    try {
      const st = await this.client.stat(real);
      if (!isDirectoryMode(st.mode)) {
        this.error(`Can't change directory: "${real}" is not a directory`);
        return false;
      }
    } catch (err) {
      this.error(`stat remote: ${errorText(err)}`);
      return false;
    }
    this.cwd = real;
    return true;
  }

  private async ls(args: string[]): Promise<boolean> {
    const parsed = parseLsFlags(args);
    if (typeof parsed === "string") {
      this.error(parsed);
      return false;
    }
    const { flags, rest } = parsed;
    const width = (this.out as NodeJS.WriteStream).isTTY
      ? ((this.out as NodeJS.WriteStream).columns ?? 80)
      : 80;
    const pattern = rest[0] ?? ".";
    const target = this.abs(pattern === "." ? "." : pattern);
    if (!hasGlob(pattern) && (await this.isRemoteDir(target))) {
      try {
        const entries = await this.client.readdir(target);
        this.say(formatListing(entries, flags, width, true));
        return true;
      } catch (err) {
        this.error(`Couldn't read directory: ${errorText(err)}`);
        return false;
      }
    }
    const matches = await this.remoteGlob(pattern);
    if (matches.length === 0) {
      this.error(`Can't ls: "${this.abs(unescapeGlob(pattern))}" not found`);
      return false;
    }
    const entries: SftpEntry[] = [];
    for (const m of matches) {
      try {
        const attrs = await this.client.lstat(m);
        const shownName = rest[0] && !rest[0].startsWith("/") ? path.posix.relative(this.cwd, m) : m;
        entries.push({ filename: shownName, longname: "", attrs });
      } catch {
        this.error(`Can't ls: "${m}" not found`);
        return false;
      }
    }
    let names: { users: Map<number, string>; groups: Map<number, string> } | undefined;
    if (flags.long && !flags.numeric) {
      const uids = [...new Set(entries.map((e) => e.attrs.uid ?? 0))];
      const gids = [...new Set(entries.map((e) => e.attrs.gid ?? 0))];
      const found = await this.client.usersGroupsById(uids, gids).catch(() => null); // numbers then
      if (found) {
        names = {
          users: new Map(uids.map((u, i) => [u, found.users[i] ?? ""])),
          groups: new Map(gids.map((g, i) => [g, found.groups[i] ?? ""])),
        };
      }
    }
    this.say(formatListing(entries, { ...flags, all: true }, width, false, names));
    return true;
  }

  private async rm(args: string[]): Promise<boolean> {
    if (!args[0]) return this.usage("rm");
    let ok = true;
    for (const pattern of args) {
      const matches = await this.remoteMatches(pattern);
      if (!matches) {
        ok = false;
        continue;
      }
      for (const m of matches) {
        if (!this.settings.quiet) this.say(`Removing ${m}\n`);
        try {
          await this.client.unlink(m);
        } catch (err) {
          this.error(`remote delete ${m}: ${errorText(err)}`);
          ok = false;
        }
      }
    }
    return ok;
  }

  private async rename(args: string[]): Promise<boolean> {
    const f = this.flags("rename", args, "l");
    if (!f) return false;
    const [from, to] = f.rest;
    if (!from || !to) {
      this.error("You must specify two paths after a rename command.");
      return false;
    }
    const a = this.abs(unescapeGlob(from));
    const b = this.abs(unescapeGlob(to));
    try {
      await this.client.rename(a, b, {
        posix: !f.set.has("l") && this.client.extensions.has("posix-rename@openssh.com"),
      });
      return true;
    } catch (err) {
      this.error(`remote rename "${a}" to "${b}": ${errorText(err)}`);
      return false;
    }
  }

  private async link(cmd: string, args: string[]): Promise<boolean> {
    const f = this.flags(cmd, args, "s");
    if (!f) return false;
    const [from, to] = f.rest;
    if (!from || !to) {
      this.error(`You must specify two paths after a ${cmd} command.`);
      return false;
    }
    const symbolic = cmd === "symlink" || f.set.has("s");
    // As sftp: a symlink's target is kept as typed (relative targets stay relative), a hard link's is absolute.
    const target = symbolic ? unescapeGlob(from) : this.abs(unescapeGlob(from));
    const link = this.abs(unescapeGlob(to));
    try {
      if (symbolic) await this.client.symlink(target, link);
      else await this.client.hardlink(target, link);
      return true;
    } catch (err) {
      const what = symbolic ? "symlink file" : "link";
      this.error(`remote ${what} "${target}" to "${link}": ${errorText(err)}`);
      return false;
    }
  }

  private async setAttr(cmd: string, args: string[]): Promise<boolean> {
    const f = this.flags(cmd, args, "h");
    if (!f) return false;
    const [value, ...patterns] = f.rest;
    if (!value || patterns.length === 0) {
      this.error(`You must supply a numeric argument to the ${cmd} command.`);
      return false;
    }
    const n = cmd === "chmod" ? parseInt(value, 8) : Number(value);
    if (!Number.isInteger(n) || n < 0 || (cmd === "chmod" && n > 0o7777) || !/^\d+$/.test(value)) {
      this.error(`You must supply a numeric argument to the ${cmd} command.`);
      return false;
    }
    let ok = true;
    for (const pattern of patterns) {
      const matches = await this.remoteMatches(pattern);
      if (!matches) {
        ok = false;
        continue;
      }
      for (const m of matches) {
        try {
          const set = f.set.has("h")
            ? (a: Parameters<SftpClient["setstat"]>[1]) => this.client.lsetstat(m, a)
            : (a: Parameters<SftpClient["setstat"]>[1]) => this.client.setstat(m, a);
          if (cmd === "chmod") {
            if (!this.settings.quiet) this.say(`Changing mode on ${m}\n`);
            await set({ mode: n });
          } else {
            const st = await this.client.stat(m).catch((err: unknown) => {
              throw Object.assign(new Error(`stat remote: ${errorText(err)}`), { reported: true });
            });
            if (st.uid === undefined || st.gid === undefined) {
              this.error(`Can't get current ownership of remote file "${m}"`);
              ok = false;
              continue;
            }
            if (!this.settings.quiet) this.say(`Changing ${cmd === "chown" ? "owner" : "group"} on ${m}\n`);
            await set(cmd === "chown" ? { uid: n, gid: st.gid } : { uid: st.uid, gid: n });
          }
        } catch (err) {
          const reported = (err as { reported?: boolean }).reported;
          this.error(reported ? (err as Error).message : `remote setstat "${m}": ${errorText(err)}`);
          ok = false;
        }
      }
    }
    return ok;
  }

  private async df(args: string[]): Promise<boolean> {
    const f = this.flags("df", args, "hi");
    if (!f) return false;
    const p = this.abs(unescapeGlob(f.rest[0] ?? "."));
    let v;
    try {
      v = await this.client.statvfs(p);
    } catch (err) {
      this.error(`Couldn't statvfs: ${errorText(err)}`);
      return false;
    }
    const pct = (used: number, total: number): string =>
      `${String(total ? Math.floor((used * 100) / total) : 0).padStart(11)}%`;
    const col = (s: string | number, w = 12): string => String(s).padStart(w);
    if (f.set.has("i")) {
      const used = v.files - v.ffree;
      this.say(`${col("Inodes")} ${col("Used")} ${col("Avail")} ${col("(root)")} ${col("%Capacity")}\n`);
      this.say(`${col(v.files)} ${col(used)} ${col(v.favail)} ${col(v.ffree)} ${pct(used, v.files)}\n`);
    } else if (f.set.has("h")) {
      const s = (n: number): string => `${humanSize(n).replace(/B$/, "").padStart(7)}B`;
      this.say("    Size     Used    Avail   (root)    %Capacity\n");
      const size = v.frsize * v.blocks;
      const used = v.frsize * (v.blocks - v.bfree);
      this.say(
        `${s(size)} ${s(used)} ${s(v.frsize * v.bavail)} ${s(v.frsize * v.bfree)} ${pct(v.blocks - v.bfree, v.blocks)}\n`,
      );
    } else {
      const k = (n: number): string => col(Math.floor((v.frsize * n) / 1024));
      this.say("        Size         Used        Avail       (root)    %Capacity\n");
      this.say(
        `${k(v.blocks)} ${k(v.blocks - v.bfree)} ${k(v.bavail)} ${k(v.bfree)} ${pct(v.blocks - v.bfree, v.blocks)}\n`,
      );
    }
    return true;
  }

  private async get(cmd: string, args: string[]): Promise<boolean> {
    const f = this.flags(cmd, args, "afpPrRh");
    if (!f) return false;
    const [src, dst] = f.rest;
    if (!src) {
      this.error("You must specify at least one path after a get command.");
      return false;
    }
    const matches = await this.remoteMatches(src, true);
    if (!matches) return false;
    const localDir = dst !== undefined ? unescapeGlob(dst) : null;
    const dstIsDir = localDir !== null && fs.existsSync(localDir) && fs.statSync(localDir).isDirectory();
    if (matches.length > 1 && localDir !== null && !dstIsDir) {
      this.error(`Multiple source paths, but destination "${localDir}" is not a directory`);
      return false;
    }
    const resume = cmd === "reget";
    const o = this.treeOptions(f.set, resume);
    let ok = true;
    for (const m of matches) {
      const base = path.posix.basename(m);
      const local = localDir === null ? base : dstIsDir ? path.join(localDir, base) : localDir;
      if (!this.settings.quiet) this.say(`${o.resume ? "Resuming" : "Fetching"} ${m} to ${local}\n`);
      try {
        if (!(await downloadPath(this.client, m, local, o))) ok = false;
      } catch (err) {
        this.error(`${err instanceof SftpError ? `remote open("${m}")` : local}: ${errorText(err)}`);
        ok = false;
      }
    }
    return ok;
  }

  private async put(cmd: string, args: string[]): Promise<boolean> {
    const f = this.flags(cmd, args, "afpPrRh");
    if (!f) return false;
    const [src, dst] = f.rest;
    if (!src) {
      this.error("You must specify at least one path after a put command.");
      return false;
    }
    const matches = await expandGlob(src, localLister);
    const existing = matches.filter((m) => fs.existsSync(m));
    if (existing.length === 0) {
      this.error(
        hasGlob(src)
          ? `File "${unescapeGlob(src)}" not found.`
          : `stat ${unescapeGlob(src)}: No such file or directory`,
      );
      return false;
    }
    const remoteTarget = dst !== undefined ? this.abs(unescapeGlob(dst)) : null;
    const dstIsDir = remoteTarget !== null ? await this.isRemoteDir(remoteTarget) : false;
    if (existing.length > 1 && remoteTarget !== null && !dstIsDir) {
      this.error(`Multiple paths match, but destination "${remoteTarget}" is not a directory`);
      return false;
    }
    const resume = cmd === "reput";
    const o = this.treeOptions(f.set, resume);
    let ok = true;
    for (const m of existing) {
      const base = path.basename(m);
      const remote =
        remoteTarget === null
          ? this.abs(base)
          : dstIsDir
            ? `${remoteTarget.replace(/\/$/, "")}/${base}`
            : remoteTarget;
      if (!this.settings.quiet) {
        this.say(o.resume ? `Resuming upload of ${m} to ${remote}\n` : `Uploading ${m} to ${remote}\n`);
      }
      try {
        if (!(await uploadPath(this.client, m, remote, o))) ok = false;
      } catch (err) {
        this.error(`${err instanceof SftpError ? `remote open("${remote}")` : m}: ${errorText(err)}`);
        ok = false;
      }
    }
    return ok;
  }

  /** Tab completion (completion.ts). */
  complete(line: string): Promise<[string[], string]> {
    return completeLine(this.client, (p) => this.abs(p), line);
  }
}
