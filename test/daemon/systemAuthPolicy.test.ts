/**
 * createSystemAuthPolicy's settle(): nsshd's monitor calls it once a connection has logged in and its grant
 * was taken, so that a connection kept for hours does not hold the users' states and the keys tried.
 */
import assert from "node:assert/strict";
import os from "node:os";
import { test } from "node:test";
import { defaultLoginSettings } from "../../src/daemon/loginSettings.js";
import { createSystemAuthPolicy } from "../../src/daemon/systemAuthPolicy.js";

const quiet = {
  error: () => {},
  info: () => {},
  verbose: () => {},
  debug1: () => {},
  debug2: () => {},
  debug3: () => {},
};
const conn = { remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 22 };

test("settle() forgets what authentication learned: grantFor() answers nothing, close() still runs", async () => {
  const me = os.userInfo().username;
  const policy = createSystemAuthPolicy(async () => defaultLoginSettings(), conn, quiet);
  assert.equal(await policy.userExists!(me), true);
  const grant = policy.grantFor(me);
  assert.equal(grant?.account.name, me, "a grant before settle()");
  policy.settle();
  assert.equal(policy.grantFor(me), undefined, "no user state is left to grant from");
  assert.equal(grant.account.name, me, "the grant taken before is the caller's to keep");
  policy.close();
  // Asked again (no monitor does), the policy looks the user up afresh.
  assert.equal(await policy.userExists!(me), true);
});
