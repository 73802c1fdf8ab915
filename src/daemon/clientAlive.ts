/**
 * ClientAliveInterval / ClientAliveCountMax (sshd_config(5)): a keepalive@openssh.com request every
 * interval; any answer resets the count; CountMax unanswered ones end the connection.
 */
import type { ServerConnection } from "../server/index.js";

/** Start the probes; returns what stops them (they also stop when the connection closes). */
export function startClientAlive(
  c: ServerConnection,
  interval: number,
  countMax: number,
  log: { info(m: string): void; debug1(m: string): void },
): () => void {
  if (interval <= 0) return () => {};
  let unanswered = 0;
  const timer = setInterval(() => {
    if (unanswered >= countMax) {
      log.info(
        `Timeout, client not responding from user ${c.user.username} ${c.remoteAddress} port ${c.remotePort}`,
      );
      clearInterval(timer);
      c.transport.disconnect(undefined, "Timeout, client not responding");
      return;
    }
    unanswered++;
    c.connection.globalRequest("keepalive@openssh.com").then(
      () => (unanswered = 0),
      (err: Error) => log.debug1(`client alive request: ${err.message}`),
    );
  }, interval * 1000);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  c.transport.once("close", stop);
  return stop;
}
