/**
 * nssh's library client (connect()) as a benchmark client in its own process, so its CPU time is
 * measured apart from the harness. Command line and modes: see clientArgs.ts.
 */
import fs from "node:fs";
import { connect, type SshClient } from "nssh";
import { parseClientArgs, runLoginModes } from "./clientArgs.js";
import { BENCH_USER } from "./fixtures.js";

const a = parseClientArgs(process.argv.slice(2));

function open(): Promise<SshClient> {
  return connect({
    host: "127.0.0.1",
    port: a.port,
    username: BENCH_USER,
    identity: a.key,
    agent: false,
    verifyHostKey: () => true, // a throwaway server on loopback, started by the harness
    ...(a.cipher ? { ciphers: [a.cipher] } : {}),
    ...(a.mac ? { macs: [a.mac] } : {}),
    ...(a.kex ? { kex: [a.kex] } : {}),
  });
}

async function loginOnce(): Promise<void> {
  const client = await open();
  const r = await client.exec("true");
  await client.close();
  if (r.code !== 0) throw new Error(`true exited ${r.code}`);
}

async function main(): Promise<void> {
  const arg = a.args[0] ?? "";
  switch (a.mode) {
    case "upload":
    case "download": {
      const client = await open();
      const session =
        a.mode === "upload"
          ? await client.spawn("cat > /dev/null", {
              stdin: fs.createReadStream(arg, { highWaterMark: 1 << 18 }),
            })
          : await client.spawn(`cat '${arg}'`);
      session.channel.resume();
      session.channel.stderr.pipe(process.stderr);
      const exit = await session.exit;
      await client.close();
      if (exit.code !== 0) throw new Error(`remote command exited ${exit.code ?? exit.signal}`);
      return;
    }
    case "sftp-get":
    case "sftp-put": {
      const client = await open();
      const sftp = await client.sftp();
      if (a.mode === "sftp-get") await sftp.get(arg, a.args[1] ?? "/dev/null");
      else await sftp.put(arg, "/dev/null");
      await sftp.end();
      await client.close();
      return;
    }
    default:
      if (await runLoginModes(a.mode, a.args, { loginOnce, open, close: (c) => c.close() })) return;
      throw new Error(`unknown mode ${a.mode}`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`nsshClientMain: ${err.message}`);
    process.exit(1);
  },
);
