#!/usr/bin/env node
/** nsftp-server: the SFTP server on stdin/stdout, as sftp-server(8); the work is in nsftpServer/run.ts. */
import { launchCommand } from "./launcher.js";

await launchCommand("nsftp-server", () => import("./nsftpServer/run.js"), { codeCache: false });
