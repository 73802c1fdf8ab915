import { test } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

// A child whose monitor is gone before the child's first request (nsshd stopped while a worker or session
// process started): Node reports such a send as an "error" event on the process, which nobody listens to,
// so the child died printing ERR_IPC_CHANNEL_CLOSED's stack. The request must fail as an IpcError instead.
test("a request after the channel closed rejects; the process does not die of it", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-ipc-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ipc = new URL("../../../src/daemon/privsep/ipc.js", import.meta.url).href;
  const messages = new URL("../../../src/daemon/privsep/messages.js", import.meta.url).href;
  const script = path.join(dir, "child.mjs");
  fs.writeFileSync(
    script,
    `import { IpcPeer } from ${JSON.stringify(ipc)};
import { trusted } from ${JSON.stringify(messages)};
const peer = new IpcPeer(process, { onRefused: (r) => console.log("refused", r) });
process.disconnect(); // closed now; its "disconnect" event comes later
console.log("connected", process.connected);
peer.request("ready", {}, trusted()).then(
  () => console.log("answered"),
  (err) => console.log("rejected", err.name, err.message),
);
peer.notify("log", { level: "info", message: "dropped" });
`,
  );
  const child = fork(script, [], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const [code] = await once(child, "exit");
  assert.equal(err, "");
  assert.equal(code, 0);
  assert.equal(out, "connected false\nrejected IpcError the other process went away\n");
});
