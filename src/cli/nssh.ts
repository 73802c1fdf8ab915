#!/usr/bin/env node
/** nssh: the client, a drop-in for ssh(1). The work is in nssh/main.ts; see docs/nssh.md. */
import { main } from "./nssh/main.js";

const status = await main(process.argv.slice(2));
// Exit once what we wrote to stdout has been handed to the OS (a pipe may still be draining).
process.stdout.write("", () => process.exit(status));
