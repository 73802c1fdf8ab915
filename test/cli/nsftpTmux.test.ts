/**
 * nsftp on a real terminal (tmux) against OpenSSH's sshd: the "sftp> " prompt, tab completion of remote
 * names, the progress meter (name, 100%, size) after a get, history (up arrow), and bye.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startTmux, tmuxAvailable, type TmuxPane } from "../helpers/nsshFixtures.js";
import { envWithoutAgent } from "../helpers/processes.js";
import {
  CLI_DIR,
  startTransferWorld,
  transferSkip,
  type TransferServer,
  type TransferWorld,
} from "../helpers/transferFixtures.js";

const skip = transferSkip || (!tmuxAvailable() ? "tmux is not installed" : false);

describe("nsftp on a terminal", { skip }, () => {
  let server: TransferServer;
  let local: string;
  let remote: string;
  let pane: TmuxPane | null = null;
  let world: TransferWorld | undefined;

  before(async () => {
    world = await startTransferWorld("nsftp-tty");
    ({ server, local, remote } = world);
  });

  after(async () => {
    pane?.kill();
    await world?.stop();
  });

  test("prompt, tab completion, progress meter, history, bye", { timeout: 30_000 }, async () => {
    fs.writeFileSync(path.join(remote, "alphabet-soup.txt"), "x".repeat(5000));
    fs.mkdirSync(path.join(remote, "zeta-dir"));
    pane = startTmux(local, { ...envWithoutAgent(), TERM: "xterm" });
    const quoted = [
      "-S",
      "/usr/bin/ssh",
      "-P",
      String(server.sshd.port),
      ...server.sshOptions,
      "root@127.0.0.1",
    ]
      .map((a) => `'${a}'`)
      .join(" ");
    pane.type(`cd ${local} && ${process.execPath} ${path.join(CLI_DIR, "nsftp.cjs")} ${quoted}`);
    await pane.waitFor(/^sftp>\s*$/m);
    pane.type(`cd ${remote}`);
    pane.type("pwd");
    await pane.waitFor(new RegExp(`Remote working directory: ${remote}`));
    pane.type("get alph", false);
    pane.keys("Tab");
    await pane.waitFor(/sftp> get alphabet-soup\.txt/);
    pane.keys("Enter");
    await pane.waitFor(/alphabet-soup\.txt +100% +5000 +\d+\.\d[KMG]B\/s +00:0\d/);
    assert.equal(fs.readFileSync(path.join(local, "alphabet-soup.txt"), "utf8"), "x".repeat(5000));
    pane.type("cd zet", false);
    pane.keys("Tab");
    await pane.waitFor(/sftp> cd zeta-dir\//);
    pane.keys("Enter");
    pane.type("pwd");
    await pane.waitFor(new RegExp(`Remote working directory: ${remote}/zeta-dir`));
    pane.keys("Up");
    pane.keys("Enter");
    const text = await pane.waitFor(/(Remote working directory: .*zeta-dir[\s\S]*){2}/);
    assert.match(text, /sftp> pwd/);
    pane.type("bye");
    pane.type("echo rc=$?");
    await pane.waitFor(/rc=0$/m);
  });
});
