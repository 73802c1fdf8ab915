/**
 * nsftp's command line: the command names, the help text sftp prints, and sftp.c makeargv()'s splitting
 * of a line into words.
 */

export const COMMANDS = [
  "bye",
  "cd",
  "chgrp",
  "chmod",
  "chown",
  "df",
  "exit",
  "get",
  "help",
  "lcd",
  "lls",
  "lmkdir",
  "ln",
  "lpwd",
  "ls",
  "lumask",
  "mkdir",
  "progress",
  "put",
  "pwd",
  "quit",
  "reget",
  "rename",
  "reput",
  "rm",
  "rmdir",
  "symlink",
  "version",
  "?",
  "!",
];

/** sftp's makeargv(): words split on blanks, '...' and "..." quoting, backslash escapes (kept before glob characters). */
export function splitArgs(line: string): string[] | string {
  const args: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && i + 1 < line.length) {
        const n = line[++i]!;
        cur += "*?[]\\".includes(n) ? `\\${n}` : n;
      } else cur += "*?[]".includes(c) ? `\\${c}` : c;
      continue;
    }
    if (c === " " || c === "\t") {
      if (inWord) args.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') quote = c;
    else if (c === "\\" && i + 1 < line.length) {
      const n = line[++i]!;
      cur += "*?[]\\".includes(n) ? `\\${n}` : n;
    } else cur += c;
  }
  if (quote) return "Unterminated quote";
  if (inWord) args.push(cur);
  return args;
}

export const HELP = `Available commands:
bye                                Quit sftp
cd path                            Change remote directory to 'path'
chgrp [-h] grp path                Change group of file 'path' to 'grp'
chmod [-h] mode path               Change permissions of file 'path' to 'mode'
chown [-h] own path                Change owner of file 'path' to 'own'
df [-hi] [path]                    Display statistics for current directory or
                                   filesystem containing 'path'
exit                               Quit sftp
get [-afpR] remote [local]         Download file
help                               Display this help text
lcd path                           Change local directory to 'path'
lls [ls-options [path]]            Display local directory listing
lmkdir path                        Create local directory
ln [-s] oldpath newpath            Link remote file (-s for symlink)
lpwd                               Print local working directory
ls [-1afhlnrSt] [path]             Display remote directory listing
lumask umask                       Set local umask to 'umask'
mkdir path                         Create remote directory
progress                           Toggle display of progress meter
put [-afpR] local [remote]         Upload file
pwd                                Display remote working directory
quit                               Quit sftp
reget [-fpR] remote [local]        Resume download file
rename oldpath newpath             Rename remote file
reput [-fpR] local [remote]        Resume upload file
rm path                            Delete remote file
rmdir path                         Remove remote directory
symlink oldpath newpath            Symlink remote file
version                            Show SFTP version
!command                           Execute 'command' in local shell
!                                  Escape to local shell
?                                  Synonym for help
`;
