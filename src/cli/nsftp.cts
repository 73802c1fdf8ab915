#!/usr/bin/env node
/** nsftp: file transfer, as sftp(1); see docs/nsftp.md. The work is in nsftp/, started by nsftp/run.ts. */
import { startCommand } from "./launcher.cjs";

startCommand("nsftp", () => import("./nsftp/run.js"));
