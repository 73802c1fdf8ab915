/**
 * nsftp's and nscp's connection when no ssh program is named (-S): the argv that sshArgv() builds for
 * nssh is run by nssh's own code in this process (nssh/destination.ts: configuration, host key checks and
 * prompts, identities and agent, ProxyCommand/ProxyJump, messages) instead of in a second Node process
 * whose stdio would carry every byte through a pipe and cost 4-6 CPU seconds per GiB. The remote program
 * is the session nssh would start (nssh/session.ts without a PTY or stdin of its own): the subsystem or
 * the command, after SendEnv/SetEnv; its stdout and stdin are the channel, its stderr goes to ours, and
 * `exited` gives the status nssh would have exited with (the remote program's; 255 when the connection
 * failed, after nssh's message, or was lost).
 */
import { Readable, Writable } from "node:stream";
import { openSession, type ClientSession } from "../../session/clientSession.js";
import { parseArgs } from "../nssh/args.js";
import {
  endRun,
  loginToDestination,
  remoteWork,
  reportFailure,
  resolveDestination,
  type RemoteWork,
  type RunState,
} from "../nssh/destination.js";
import { setProgname, type CliLog } from "../nssh/log.js";
import type { Hop } from "../nssh/login.js";
import { restoreTerminals } from "../nssh/readPassphrase.js";
import { sendEnvironment } from "../nssh/sessionEnvironment.js";
import type { SshRun } from "./sshProgram.js";

/** Signals that end the run while it connects (ssh's own handlers: the terminal and ProxyCommand first). */
const ENDING_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/**
 * While connecting (a prompt may have the terminal in raw mode, a ProxyCommand may run), a signal gives
 * the terminal back and ends what the run started, then ends this process as the signal would have.
 */
function endOnSignals(run: RunState): () => void {
  const handlers = ENDING_SIGNALS.map((signal) => {
    const handler = (): void => {
      remove();
      restoreTerminals();
      run.log?.debug1(`Killed by signal ${signal}.`);
      endRun(run);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const remove = (): void => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return remove;
}

/** Start the remote program as nssh's runSession does without a PTY (clientloop.c client_session2_setup). */
async function startRemoteProgram(hop: Hop, work: RemoteWork, log: CliLog): Promise<ClientSession> {
  const session = await openSession(hop.client.connection);
  sendEnvironment(session, hop.cfg.sendEnv, hop.cfg.setEnv, log);
  try {
    if (work.subsystem) {
      log.debug1(`Sending subsystem: ${work.command ?? ""}`);
      await session.subsystem(work.command ?? "");
    } else if (work.command !== undefined) {
      log.debug1(`Sending command: ${work.command}`);
      await session.exec(work.command);
    } else {
      log.debug2("shell request accepted on channel 0");
      await session.shell();
    }
  } catch (err) {
    session.channel.destroy();
    throw err;
  }
  return session;
}

/** The run of a program that is there: its channel, and its status once it ends (then the connection ends). */
function liveRun(session: ClientSession, hop: Hop, log: CliLog, run: RunState): SshRun {
  const channel = session.channel;
  channel.stderr.pipe(process.stderr, { end: false });
  let stopped = false;
  const exited = session.exit
    .then(
      (exit) => {
        if (exit.code === null && exit.signal) log.debug1(`remote program killed by signal ${exit.signal}`);
        return exit.code ?? 255;
      },
      (err: Error) => {
        log.debug1(err.message);
        if (!stopped)
          log.error(hop.lostReason() ?? `Connection to ${hop.cfg.hostname} closed by remote host.`);
        return 255;
      },
    )
    .then((status) => {
      log.debug1(`Exit status ${status}`);
      endRun(run);
      return status;
    });
  return {
    connected: true,
    stdin: channel,
    stdout: channel,
    exited,
    stop() {
      stopped = true;
      channel.destroy();
      endRun(run);
    },
  };
}

/** The run of an ssh that could not connect (it has said why): no output, input discarded, its status. */
function failedRun(status: number): SshRun {
  return {
    connected: false,
    stdin: new Writable({ write: (_chunk, _encoding, done) => done() }),
    stdout: Readable.from([]),
    exited: Promise.resolve(status),
    stop() {},
  };
}

/**
 * Connect and start the remote program as `nssh argv...` would. Never rejects: a failure is reported in
 * nssh's words on stderr and gives a run that is not connected, with exit status 255.
 */
export async function runSshInProcess(argv: string[]): Promise<SshRun> {
  setProgname("nssh");
  const run: RunState = { log: null, cleanups: [] };
  const removeSignalHandlers = endOnSignals(run);
  try {
    const args = parseArgs(argv);
    const dest = await resolveDestination(args);
    const { hop, cfg, log } = await loginToDestination(dest, run);
    const work = remoteWork(args, cfg);
    if (work.noSession) {
      // -N or SessionType none: nssh holds the connection until the server ends it, then exits 255.
      await new Promise<void>((resolve) => hop.client.once("close", () => resolve()));
      endRun(run);
      return failedRun(255);
    }
    const session = await startRemoteProgram(hop, work, log);
    return liveRun(session, hop, log, run);
  } catch (err) {
    reportFailure(err, run.log);
    endRun(run);
    return failedRun(255);
  } finally {
    removeSignalHandlers();
  }
}
