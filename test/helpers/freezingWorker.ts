/**
 * A pre-auth worker whose event loop stops for good once it is given a connection from remote port 1 (the
 * stall of a worker that no longer reads its channel), for test/daemon/privsep/workerHealth.test.ts. Any
 * other connection it serves as the real worker does.
 */
import { runWorker } from "../../src/daemon/privsep/workerMain.js";

process.on("message", (m: { op?: string; args?: { info?: { remotePort?: number } } } | null) => {
  if (m?.op !== "connection" || m.args?.info?.remotePort !== 1) return;
  // After this turn of the loop: the worker takes the connection, then nothing more happens here.
  setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
});
runWorker(process as unknown as Parameters<typeof runWorker>[0]);
