/**
 * A PrivsepMonitor in the test's own process (its workers are real child processes), with an ed25519 host
 * key and every log line recorded, and connection specs for which nobody may log in: for tests of the
 * monitor's handling of workers.
 */
import fs from "node:fs";
import { parsePrivateKey } from "../../src/keys/index.js";
import {
  PrivsepMonitor,
  type MonitorConnectionSpec,
  type MonitorOptions,
} from "../../src/daemon/privsep/monitor.js";
import type { DaemonLog } from "../../src/daemon/log.js";
import { makeUserKey } from "./authHelpers.js";

export interface TestMonitor {
  monitor: PrivsepMonitor;
  /** Every line the monitor and its connections logged, as "level: message". */
  lines: string[];
}

/** Start a monitor (stop it in the test's t.after) whose login backend grants nothing. */
export async function startTestMonitor(
  dir: string,
  options: Omit<MonitorOptions, "log" | "login">,
): Promise<TestMonitor> {
  const lines: string[] = [];
  const record = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  const log: DaemonLog = {
    error: record("error"),
    info: record("info"),
    verbose: record("verbose"),
    debug1: record("debug1"),
    debug2: record("debug2"),
    debug3: record("debug3"),
  };
  const monitor = new PrivsepMonitor({
    log,
    login: { createPolicy: () => ({ grantFor: () => undefined }), startSession: () => {} },
    ...options,
  });
  const hostKey = parsePrivateKey(fs.readFileSync(makeUserKey(dir, "host", "ed25519").file));
  monitor.configure([hostKey], {
    kex: ["curve25519-sha256"],
    ciphers: ["aes128-gcm@openssh.com", "aes128-ctr"],
    macs: ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"],
    hostKeyAlgorithms: ["ssh-ed25519"],
  });
  await monitor.start();
  return { monitor, lines };
}

/** A connection's spec in which no user may log in; its lines go to `lines`, its end to `ended`. */
export function refusingConnectionSpec(
  lines: string[],
  remotePort: number,
  ended: (reason: string) => void,
): MonitorConnectionSpec {
  return {
    info: { remoteAddress: "127.0.0.1", remotePort, localAddress: "127.0.0.1", localPort: 22 },
    preauth: { maxAuthTries: 6, publicKeyAlgorithms: [], loginGraceTime: 30 },
    settingsForUser: () => {
      throw new Error("no user may log in here");
    },
    methodsForUser: () => ({ enabled: ["publickey"] }),
    postauth: () => ({ maxSessions: 10, clientAlive: { interval: 0, countMax: 3 } }),
    write: (level, message) => lines.push(`${level}: ${message}`),
    preauthEnded: () => {},
    ended: (how) => ended(how.reason ?? "ended"),
  };
}
