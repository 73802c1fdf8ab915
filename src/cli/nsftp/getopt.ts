/**
 * getopt(3) as OpenSSH's commands use it: clustered single-letter flags, an argument either attached
 * ("-P2222") or next ("-P 2222"), and the first operand (or "--") ending the options.
 */
export interface ParsedOptions {
  flags: Array<{ flag: string; value?: string }>;
  operands: string[];
}

/** `spec` as getopt's optstring: a letter, with ":" after it when it takes an argument. */
export function getopt(argv: string[], spec: string): ParsedOptions | string {
  const flags: ParsedOptions["flags"] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const at = spec.indexOf(c);
      if (at < 0 || c === ":") return `unknown option -- ${c}`;
      if (spec[at + 1] === ":") {
        let value = a.slice(j + 1);
        if (value === "") {
          if (i + 1 >= argv.length) return `option requires an argument -- ${c}`;
          value = argv[++i]!;
        }
        flags.push({ flag: c, value });
        break;
      }
      flags.push({ flag: c });
    }
  }
  return { flags, operands: argv.slice(i) };
}
