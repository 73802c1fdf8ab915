#!/usr/bin/env node
/**
 * nsshd (early form): listens on 127.0.0.1:2222, creates its state folder and host keys on first run, and
 * runs the SSH transport for every connection. User authentication and sessions arrive with the next
 * issues; until then every login is refused after key exchange, which is enough to check a client's
 * algorithms against it (`ssh -v -p 2222 localhost`).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parsePrivateKey, PrivateKey, serializePrivateKey, type KeyType } from "../keys/index.js";
import { Transport, type LogLevel } from "../transport/index.js";
import { DisconnectReason, Msg, SshWriter } from "../wire/index.js";

interface Flags {
  port: number;
  listen: string;
  debug: number;
  stateDir: string;
}

function usage(message: string): never {
  process.stderr.write(
    `nsshd: ${message}\nusage: nsshd [-d] [-p port] [-o ListenAddress=addr] [-S state-dir]\n`,
  );
  process.exit(1);
}

function parseFlags(argv: string[]): Flags {
  const stateHome = process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  const flags: Flags = { port: 2222, listen: "127.0.0.1", debug: 0, stateDir: path.join(stateHome, "nsshd") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`option requires an argument -- ${a.slice(1)}`);
    if (/^-d+$/.test(a)) flags.debug += a.length - 1;
    else if (a === "-p") flags.port = Number(value());
    else if (a === "-S") flags.stateDir = value();
    else if (a === "-o") {
      const [k, v] = value().split("=");
      if (k?.toLowerCase() === "listenaddress" && v) flags.listen = v;
      else usage(`unsupported option ${k}: only ListenAddress for now`);
    } else usage(`unknown option ${a}`);
  }
  if (!Number.isInteger(flags.port) || flags.port < 1 || flags.port > 65535) usage("bad port number");
  return flags;
}

/** Load the host keys of the state folder, generating the missing ones (as sshd-keygen does). */
function loadHostKeys(dir: string, log: (m: string) => void): PrivateKey[] {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const wanted: Array<[string, KeyType, number | undefined]> = [
    ["ssh_host_ed25519_key", "ssh-ed25519", undefined],
    ["ssh_host_ecdsa_key", "ecdsa-sha2-nistp256", undefined],
    ["ssh_host_rsa_key", "ssh-rsa", 3072],
  ];
  return wanted.map(([file, type, bits]) => {
    const p = path.join(dir, file);
    if (fs.existsSync(p)) return parsePrivateKey(fs.readFileSync(p));
    const key = PrivateKey.generate(type, bits);
    key.comment = `nsshd@${os.hostname()}`;
    fs.writeFileSync(p, serializePrivateKey(key, { format: "openssh" }), { mode: 0o600 });
    fs.writeFileSync(p + ".pub", key.publicKey.toLine(key.comment) + "\n", { mode: 0o644 });
    log(`generated host key ${p}: ${key.publicKey.fingerprintSha256()}`);
    return key;
  });
}

function main(): void {
  const flags = parseFlags(process.argv.slice(2));
  const levels: LogLevel[] = ["error", "info", "verbose", "debug1", "debug2", "debug3"];
  const maxLevel = flags.debug === 0 ? 1 : Math.min(2 + flags.debug, 5);
  const logLine = (level: LogLevel, message: string): void => {
    if (levels.indexOf(level) > maxLevel) return;
    process.stderr.write(`${level.startsWith("debug") ? level + ": " : ""}${message}\n`);
  };
  const hostKeys = loadHostKeys(flags.stateDir, (m) => logLine("info", m));
  const server = net.createServer((socket) => {
    const peer = `${socket.remoteAddress} port ${socket.remotePort}`;
    logLine("info", `Connection from ${peer} on ${socket.localAddress} port ${socket.localPort}`);
    const transport = new Transport({ role: "server", socket, hostKeys, log: logLine });
    transport.setMessageHandler((type) => {
      if (type === Msg.USERAUTH_REQUEST) {
        // No authentication method exists yet: an empty list says so (RFC 4252 §5.1).
        transport.send(
          Buffer.from(new SshWriter().byte(Msg.USERAUTH_FAILURE).nameList([]).boolean(false).toBuffer()),
        );
      } else {
        transport.disconnect(DisconnectReason.PROTOCOL_ERROR, "unexpected message");
      }
    });
    transport.on("close", (err) =>
      logLine("info", `Connection closed by ${peer}${err ? `: ${err.message}` : ""}`),
    );
  });
  server.on("error", (err) => {
    logLine("error", `error: Bind to port ${flags.port} on ${flags.listen} failed: ${err.message}.`);
    process.exit(255);
  });
  server.listen(flags.port, flags.listen, () =>
    logLine("info", `Server listening on ${flags.listen} port ${flags.port}.`),
  );
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      logLine("info", `Received signal ${sig === "SIGTERM" ? 15 : 2}; terminating.`);
      server.close();
      process.exit(0);
    });
  }
}

main();
