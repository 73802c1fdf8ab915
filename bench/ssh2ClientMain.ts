/**
 * The ssh2 library's client as a benchmark client in its own process. Command line and modes: see
 * clientArgs.ts. SFTP uses ssh2's fastGet/fastPut with their defaults (64 requests of 32 KiB).
 */
import fs from "node:fs";
import ssh2 from "ssh2";
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper } from "ssh2";
import { parseClientArgs, runLoginModes } from "./clientArgs.js";
import { BENCH_USER } from "./fixtures.js";

const a = parseClientArgs(process.argv.slice(2));
const privateKey = fs.readFileSync(a.key);

function open(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    const algorithms: NonNullable<ConnectConfig["algorithms"]> = {};
    if (a.cipher) algorithms.cipher = [a.cipher as never];
    if (a.mac) algorithms.hmac = [a.mac as never];
    if (a.kex) algorithms.kex = [a.kex as never];
    c.once("ready", () => resolve(c));
    c.once("error", reject);
    c.connect({
      host: "127.0.0.1",
      port: a.port,
      username: BENCH_USER,
      privateKey,
      algorithms,
      hostVerifier: () => true, // a throwaway server on loopback, started by the harness
      readyTimeout: 20_000,
    });
  });
}

/** A running command's channel, and its outcome once the channel has closed. */
interface Execution {
  stream: ClientChannel;
  /** "" when the command exited 0, else how it ended. */
  failure: Promise<string>;
}

/**
 * Runs a command. The outcome is watched from inside ssh2's callback, not after an await: a command as
 * quick as `true` has its EOF, exit-status and CLOSE arrive with the exec's CHANNEL_SUCCESS, ssh2 handles
 * them all in one go, and an "exit" listener added a microtask later misses the status (seen against
 * sshd: about one login in 70).
 */
function exec(c: Client, command: string): Promise<Execution> {
  return new Promise((resolve, reject) =>
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      const failure = new Promise<string>((done) => {
        let outcome = "ended with no exit status";
        // ssh2 emits "exit" with a null code and the signal's name for an exit-signal (RFC 4254 §6.10).
        stream.on("exit", (code: number | null, signal?: string) => {
          outcome = code === 0 ? "" : code !== null ? `exited with ${code}` : `was killed by ${signal}`;
        });
        stream.on("close", () => done(outcome));
      });
      resolve({ stream, failure });
    }),
  );
}

function closeClient(c: Client): Promise<void> {
  return new Promise((resolve) => {
    c.once("close", () => resolve());
    c.end();
  });
}

function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

async function loginOnce(): Promise<void> {
  const c = await open();
  const { stream, failure } = await exec(c, "true");
  stream.resume();
  stream.stderr.resume();
  const failed = await failure;
  await closeClient(c);
  if (failed) throw new Error(`true ${failed}`);
}

async function main(): Promise<void> {
  const arg = a.args[0] ?? "";
  switch (a.mode) {
    case "upload":
    case "download": {
      const c = await open();
      const { stream, failure } = await exec(c, a.mode === "upload" ? "cat > /dev/null" : `cat '${arg}'`);
      stream.stderr.pipe(process.stderr);
      // The channel's readable side must flow, or "close" never comes.
      stream.resume();
      if (a.mode === "upload") fs.createReadStream(arg, { highWaterMark: 1 << 18 }).pipe(stream);
      else stream.end();
      const failed = await failure;
      await closeClient(c);
      if (failed) throw new Error(`remote command ${failed}`);
      return;
    }
    case "sftp-get":
    case "sftp-put": {
      const c = await open();
      const sftp = await sftpOf(c);
      await new Promise<void>((resolve, reject) => {
        const cb = (err: Error | null | undefined): void => (err ? reject(err) : resolve());
        if (a.mode === "sftp-get") sftp.fastGet(arg, a.args[1] ?? "/dev/null", cb);
        else sftp.fastPut(arg, "/dev/null", cb);
      });
      sftp.end();
      await closeClient(c);
      return;
    }
    default:
      if (await runLoginModes(a.mode, a.args, { loginOnce, open, close: closeClient })) return;
      throw new Error(`unknown mode ${a.mode}`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`ssh2ClientMain: ${err.message}`);
    process.exit(1);
  },
);
