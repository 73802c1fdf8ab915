#!/usr/bin/env node
/** nsftp-server: the SFTP server on stdin/stdout, as sftp-server(8); the work is in nsftpServer/run.ts. */
import { startCommand } from "./launcher.cjs";

startCommand("nsftp-server", () => import("./nsftpServer/run.js"), { codeCache: false });
