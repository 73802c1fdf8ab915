/**
 * The command line shared by the library benchmark clients (nsshClientMain.ts, ssh2ClientMain.ts):
 * `--port N --key FILE [--cipher C] [--mac M] [--kex K] MODE [ARG...]`, and the modes they run.
 *
 * Modes: upload FILE (into `cat > /dev/null`), download FILE (`cat FILE`), sftp-get REMOTE [LOCAL] (to
 * LOCAL, default /dev/null), sftp-put FILE (to /dev/null), login COUNT (serial logins running `true`; prints a JSON
 * array of milliseconds), rate SECONDS CONCURRENCY (prints JSON {logins, seconds}), hold COUNT (opens
 * that many authenticated idle connections, prints "ready", holds them until stdin ends).
 */

export interface ClientArgs {
  port: number;
  key: string;
  cipher: string | null;
  mac: string | null;
  kex: string | null;
  mode: string;
  args: string[];
}

export function parseClientArgs(argv: readonly string[]): ClientArgs {
  const out: ClientArgs = { port: 0, key: "", cipher: null, mac: null, kex: null, mode: "", args: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) break;
    const value = argv[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    if (a === "--port") out.port = Number(value);
    else if (a === "--key") out.key = value;
    else if (a === "--cipher") out.cipher = value;
    else if (a === "--mac") out.mac = value;
    else if (a === "--kex") out.kex = value;
    else throw new Error(`unknown option ${a}`);
  }
  out.mode = argv[i] ?? "";
  out.args = argv.slice(i + 1) as string[];
  if (!out.port || !out.key || !out.mode) throw new Error("usage: --port N --key FILE [...] MODE [ARG...]");
  return out;
}

/** Flags for a client main from the case's algorithm choice (null: that side's default). */
export function clientFlags(o: {
  port: number;
  key: string;
  cipher?: string | null;
  mac?: string | null;
  kex?: string | null;
}): string[] {
  const flags = ["--port", String(o.port), "--key", o.key];
  if (o.cipher) flags.push("--cipher", o.cipher);
  if (o.mac) flags.push("--mac", o.mac);
  if (o.kex) flags.push("--kex", o.kex);
  return flags;
}

/** Run `once` in `concurrency` loops until `seconds` pass; the number of completed logins. */
export async function loginRate(
  seconds: number,
  concurrency: number,
  once: () => Promise<void>,
): Promise<{ logins: number; seconds: number; failures: number }> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let logins = 0;
  let failures = 0;
  let lastError = "";
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          await once();
          logins++;
        } catch (err) {
          failures++;
          lastError = (err as Error).message;
          if (failures > 50) throw new Error(`too many failed logins: ${lastError}`);
        }
      }
    }),
  );
  if (failures) console.error(`${failures} failed logins, last: ${lastError}`);
  return { logins, seconds: (performance.now() - start) / 1000, failures };
}

/** Open `count` connections, `parallel` at a time (sshd's MaxStartups refuses many unauthenticated ones). */
export async function openMany<T>(count: number, parallel: number, open: () => Promise<T>): Promise<T[]> {
  const all: T[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < count) {
        started++;
        all.push(await open());
      }
    }),
  );
  return all;
}

/** Resolves when stdin ends (the harness closes it to release held connections). */
export function stdinEnded(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.stdin.resume();
  });
}

/**
 * The modes every bench client shares: "login" (N serial logins, their times as JSON), "rate" (logins/s
 * with some in parallel) and "hold" (N idle connections until stdin ends). False for another mode.
 */
export async function runLoginModes<T>(
  mode: string,
  args: string[],
  client: { loginOnce(): Promise<void>; open(): Promise<T>; close(c: T): Promise<void> },
): Promise<boolean> {
  const arg = args[0] ?? "";
  switch (mode) {
    case "login": {
      const times: number[] = [];
      for (let i = 0; i < Number(arg); i++) {
        const t0 = performance.now();
        await client.loginOnce();
        times.push(performance.now() - t0);
      }
      console.log(JSON.stringify(times));
      return true;
    }
    case "rate":
      console.log(JSON.stringify(await loginRate(Number(arg), Number(args[1] ?? 8), client.loginOnce)));
      return true;
    case "hold": {
      const clients = await openMany(Number(arg), 4, client.open);
      console.log("ready");
      await stdinEnded();
      await Promise.all(clients.map((c) => client.close(c)));
      return true;
    }
    default:
      return false;
  }
}
