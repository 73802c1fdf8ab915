#!/usr/bin/env node
/** nsftp: file transfer, as sftp(1); see docs/nsftp.md. The work is in nsftp/, started by nsftp/run.ts. */
import { launchCommand } from "./launcher.js";

await launchCommand("nsftp", () => import("./nsftp/run.js"));
