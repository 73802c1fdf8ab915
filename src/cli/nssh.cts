#!/usr/bin/env node
/** nssh: the client, a drop-in for ssh(1); see docs/nssh.md. The work is in nssh/, started by nssh/run.ts. */
import { startCommand } from "./launcher.cjs";

startCommand("nssh", () => import("./nssh/run.js"));
