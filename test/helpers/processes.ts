/** Running a peer program (ssh, sshpass, ...) for a test: output collected, killed after a time limit. */
import { spawn } from "node:child_process";

export interface ProgramRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run `cmd` with stdin closed; SIGKILL after `timeoutMs`. Rejects only when it cannot be started. */
export function runProgram(
  cmd: string,
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
    let stderr = "";
    let stdout = "";
    let timedOut = false;
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** The environment without an agent, so a run uses only the keys the test names. */
export function envWithoutAgent(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;
  return env;
}
