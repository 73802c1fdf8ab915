/**
 * A program: the login server of systemUsers.ts in its own process, for tests that run it as an
 * ordinary user (a daemon not started as root). Prints "PORT n" once it listens and, after SIGTERM or
 * stdin's end, the info and error lines of its log before it exits.
 */
import { startLoginServer } from "./systemUsers.js";

const srv = await startLoginServer({ printLastLog: true });
process.stdout.write(`PORT ${srv.port}\n`);
const stop = async (): Promise<void> => {
  process.stdout.write(srv.log.filter((l) => /^(info|error):/.test(l)).join("\n") + "\n");
  await srv.close();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.stdin.resume();
process.stdin.once("end", () => void stop());
