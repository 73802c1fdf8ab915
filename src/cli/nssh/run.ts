/** nssh's run: main() (nssh/main.ts), then exit with its status. Started by cli/nssh.cts (the launcher). */
import { main } from "./main.js";

// Should main() never settle and the event loop drain, exit 255 (a connection's end was lost), not 0.
process.exitCode = 255;
void main(process.argv.slice(2)).then((status) => {
  // Exit once what we wrote to stdout has been handed to the OS (a pipe may still be draining).
  process.stdout.write("", () => process.exit(status));
});
