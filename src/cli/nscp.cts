#!/usr/bin/env node
/** nscp: secure copy, as scp(1); see docs/nscp.md. The work is in nscp/, started by nscp/run.ts. */
import { startCommand } from "./launcher.cjs";

startCommand("nscp", () => import("./nscp/run.js"));
