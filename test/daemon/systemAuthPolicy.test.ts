/**
 * createSystemAuthPolicy's settle(): nsshd's monitor calls it once a connection has logged in and its grant
 * was taken, so that a connection kept for hours does not hold the users' states and the keys tried. The
 * grant taken before keeps what it was given (the key that authenticated, for the session's options).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { defaultLoginSettings } from "../../src/daemon/loginSettings.js";
import { silentLog } from "../../src/daemon/log.js";
import { createSystemAuthPolicy } from "../../src/daemon/systemAuthPolicy.js";
import { makeUserKey } from "../helpers/authHelpers.js";

const conn = { remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 22 };

test("settle() forgets what authentication learned; the grant taken before keeps its key", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-settle-"));
  try {
    const user = makeUserKey(dir, "user", "ed25519");
    const authorized = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorized, fs.readFileSync(`${user.file}.pub`));
    // An absolute AuthorizedKeysFile outside any home, so not subject to StrictModes' owner checks.
    const settings = {
      ...defaultLoginSettings(),
      authorizedKeysFiles: [authorized],
      strictModes: false,
      permitRootLogin: "yes" as const,
    };
    const me = os.userInfo().username;
    const key = user.key.publicKey;
    const policy = createSystemAuthPolicy(async () => settings, conn, silentLog);
    assert.equal(await policy.checkPublicKey!({ username: me, key, service: "ssh-connection" }), true);
    const grant = policy.grantFor(me);
    assert.equal(grant?.account.name, me, "a grant before settle()");
    assert.equal(grant.keyFor(key)?.where, `${authorized}:1`);
    policy.settle();
    assert.equal(policy.grantFor(me), undefined, "no user state is left to grant from");
    assert.equal(grant.keyFor(key)?.where, `${authorized}:1`, "the grant's key authorization stays");
    assert.equal(grant.keys.length, 1);
    policy.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
