/**
 * The listening sockets of sshd_config(5) Port, ListenAddress and AddressFamily (with -4 / -6): every
 * ListenAddress without its own port is used with every Port; no ListenAddress means all addresses
 * (0.0.0.0 and ::). Bind failures are logged as sshd logs them; only when no address at all could be
 * bound is it fatal ("Cannot bind any address.").
 */
import net from "node:net";
import { SshError } from "../wire/index.js";
import type { DaemonLog } from "./log.js";

export interface ListenSpec {
  host: string;
  port: number;
}

export type AddressFamily = "any" | "inet" | "inet6";

/**
 * The addresses to bind, from the settings' expanded ListenAddress entries (each with its port), without
 * those of the other family when AddressFamily (or -4 / -6) names one, and without duplicates.
 */
export function listenSpecs(addresses: readonly ListenSpec[], family: AddressFamily): ListenSpec[] {
  const specs: ListenSpec[] = [];
  for (const a of addresses) {
    const v = net.isIP(a.host);
    if ((family === "inet" && v === 6) || (family === "inet6" && v === 4)) continue;
    if (!specs.some((s) => s.host === a.host && s.port === a.port))
      specs.push({ host: a.host, port: a.port });
  }
  return specs;
}

/** Bind every spec; resolves with the servers that bound (bind failures are logged as sshd logs them). */
export async function bindAll(
  specs: readonly ListenSpec[],
  onConnection: (socket: net.Socket) => void,
  log: DaemonLog,
  /** Read nothing from accepted sockets (they are passed to another process whole: privilege separation). */
  pauseOnConnect = false,
): Promise<Array<{ spec: ListenSpec; server: net.Server }>> {
  const bound: Array<{ spec: ListenSpec; server: net.Server }> = [];
  for (const spec of specs) {
    const server = net.createServer({ noDelay: true, pauseOnConnect }, onConnection);
    const ok = await new Promise<boolean>((resolve) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        log.error(`Bind to port ${spec.port} on ${spec.host} failed: ${errnoText(err)}.`);
        resolve(false);
      });
      server.listen({ port: spec.port, host: spec.host, ipv6Only: net.isIPv6(spec.host) }, () =>
        resolve(true),
      );
    });
    if (!ok) continue;
    server.removeAllListeners("error");
    server.on("error", (err) => log.error(`accept: ${err.message}`));
    // sshd prints the address as given (its numeric form).
    log.info(`Server listening on ${spec.host} port ${spec.port}.`);
    bound.push({ spec, server });
  }
  return bound;
}

/** The error when nothing could be bound (sshd: fatal "Cannot bind any address."). */
export function noAddressBound(): SshError {
  return new SshError("CONFIG", "Cannot bind any address.");
}

/** Stop accepting on every server; existing connections go on (close()'s callback would wait for them). */
export function closeAll(servers: readonly net.Server[]): void {
  for (const s of servers) if (s.listening) s.close();
}

/** strerror(3)-like text for the usual bind errors. */
function errnoText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "Address already in use";
    case "EACCES":
      return "Permission denied";
    case "EADDRNOTAVAIL":
      return "Cannot assign requested address";
    default:
      return err.message;
  }
}
