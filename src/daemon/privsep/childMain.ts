/**
 * The entry point of nsshd's child processes: `childMain.js worker` or `childMain.js session`, started by
 * the monitor with an IPC channel (childProcesses.ts). Nothing else starts it.
 */
import { runSessionProcess } from "./sessionMain.js";
import { runWorker } from "./workerMain.js";

const role = process.argv[2];
if (!process.send) {
  process.stderr.write("nsshd child: started without the monitor's IPC channel\n");
  process.exit(2);
}
// An error nothing handled ends this process only: the monitor notices and replaces it.
process.on("uncaughtException", (err) => {
  process.stderr.write(`nsshd ${role}: ${err.stack ?? err.message}\n`);
  process.exit(70);
});
process.on("disconnect", () => process.exit(0));
if (role === "worker") runWorker(process as Parameters<typeof runWorker>[0]);
else if (role === "session") runSessionProcess(process as Parameters<typeof runSessionProcess>[0]);
else {
  process.stderr.write(`nsshd child: unknown role ${String(role)}\n`);
  process.exit(2);
}
