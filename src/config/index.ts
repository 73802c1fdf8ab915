/**
 * config/: ssh_config(5) for the client (sshConfig.ts, with `ssh -G`) and sshd_config(5) for the daemon
 * (sshdConfig.ts, with `sshd -T` and `-t`), on one line syntax (configLine.ts).
 */
export * from "./configLine.js";
export * from "./sshConfig.js";
export * from "./sshdConfig.js";
