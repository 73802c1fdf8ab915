/**
 * The environment ssh(1) passes to a session (ssh_config(5) SendEnv and SetEnv; clientloop.c
 * client_session2_setup): the variables SendEnv's patterns name (`-pattern` removes earlier ones) and
 * SetEnv's NAME=VALUE pairs, sent as env requests that ask for no reply.
 */
import { matchesPattern } from "../../crypto/index.js";
import type { ClientSession } from "../../session/clientSession.js";
import { encodeEnv } from "../../session/requests.js";
import type { CliLog } from "./log.js";

/** The environment SendEnv names (patterns, `-` to remove earlier ones) and SetEnv's NAME=VALUE pairs. */
export function environmentToSend(sendEnv: string[], setEnv: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  const patterns: string[] = [];
  for (const item of sendEnv.flatMap((s) => s.split(/\s+/)).filter(Boolean)) {
    if (item.startsWith("-")) {
      const p = item.slice(1);
      for (let i = patterns.length - 1; i >= 0; i--)
        if (matchesPattern(patterns[i]!, p)) patterns.splice(i, 1);
    } else patterns.push(item);
  }
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && patterns.some((p) => matchesPattern(name, p))) env[name] = value;
  }
  for (const pair of setEnv.flatMap((s) => s.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [])) {
    const eq = pair.indexOf("=");
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"(.*)"$/, "$1");
  }
  return env;
}

/**
 * Send the environment on `session` before its command. As ssh does ("request env confirm 0"), the
 * requests ask for no reply, so they go out with the command instead of costing a round trip each; a
 * server that does not accept a variable (AcceptEnv) ignores it.
 */
export function sendEnvironment(
  session: ClientSession,
  sendEnv: string[],
  setEnv: string[],
  log: CliLog,
): void {
  for (const [name, value] of Object.entries(environmentToSend(sendEnv, setEnv))) {
    log.debug1(`channel 0: setting env ${name} = "${value.replace(/[^\x20-\x7e]/g, "?")}"`);
    log.debug2(`channel 0: request env confirm 0`);
    void session.channel.request("env", encodeEnv(name, value), false).catch((err: Error) => {
      log.debug2(`channel 0: env request for ${name} not sent: ${err.message}`);
    });
  }
}
