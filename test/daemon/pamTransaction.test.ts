/**
 * The PAM binding (native/nssh-pam-helper through pamTransaction.ts) against Debian's real PAM stack
 * (the sshd service: pam_unix with yescrypt hashes): right and wrong passwords, a locked account, an
 * expired password changed through the conversation, and the session's environment. Root only.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import {
  PamCode,
  pamAvailable,
  PamTransaction,
  type PamConversation,
} from "../../src/daemon/pamTransaction.js";
import { createTestUser, isRoot, shadowHash } from "../helpers/systemUsers.js";

const skip = !isRoot ? "needs root" : !pamAvailable() ? "nssh-pam-helper not built" : false;

function answering(password: string): PamConversation {
  return { prompt: (_text, echo) => (echo ? null : password) };
}

async function authenticate(user: string, password: string) {
  const t = PamTransaction.start({
    user,
    remoteAddress: "127.0.0.1",
    mode: "auth",
    conversation: answering(password),
  });
  const auth = await t.nextStatus();
  const account = auth?.code === PamCode.SUCCESS ? await t.nextStatus() : null;
  return { t, auth, account };
}

test("PAM: a yescrypt password is checked by the real stack; a wrong one is refused", { skip }, async (t) => {
  const u = createTestUser();
  t.after(() => u.remove());
  assert.match(shadowHash(u.name), /^\$y\$/, "chpasswd hashes with yescrypt");
  const ok = await authenticate(u.name, u.password);
  assert.equal(ok.auth?.code, PamCode.SUCCESS);
  assert.equal(ok.account?.code, PamCode.SUCCESS);
  ok.t.end();
  const bad = await authenticate(u.name, u.password + "x");
  assert.equal(bad.auth?.code, PamCode.AUTH_ERR);
  assert.equal(bad.auth?.step, "authenticate");
  assert.equal(bad.auth?.text, "Authentication failure");
  bad.t.end();
});

test("PAM: an unknown user fails like a wrong password", { skip }, async () => {
  const r = await authenticate("nssh-no-such-user", "whatever");
  assert.notEqual(r.auth?.code, PamCode.SUCCESS);
  r.t.end();
});

test("PAM: a locked account (usermod -L) is refused even with its password", { skip }, async (t) => {
  const u = createTestUser();
  t.after(() => u.remove());
  assert.equal(spawnSync("usermod", ["-L", u.name]).status, 0);
  const r = await authenticate(u.name, u.password);
  assert.notEqual(r.auth?.code, PamCode.SUCCESS);
  r.t.end();
});

test(
  "PAM: an expired password (chage -d 0) asks for a change, made through the conversation",
  { skip },
  async (t) => {
    const u = createTestUser();
    t.after(() => u.remove());
    assert.equal(spawnSync("chage", ["-d", "0", u.name]).status, 0);
    const r = await authenticate(u.name, u.password);
    assert.equal(r.auth?.code, PamCode.SUCCESS);
    assert.equal(r.account?.code, PamCode.NEW_AUTHTOK_REQD);
    const newPassword = `New-${u.password}-9z`;
    const prompts: string[] = [];
    const messages: string[] = [];
    r.t.conversation = {
      prompt: (text, echo) => {
        prompts.push(text);
        if (echo) return null;
        return /current/i.test(text) ? u.password : newPassword;
      },
      message: (text) => messages.push(text),
    };
    const changed = await r.t.changeExpiredPassword();
    assert.equal(changed?.code, PamCode.SUCCESS, `chauthtok: ${changed?.text}; prompts ${prompts.join("|")}`);
    assert.ok(
      prompts.some((p) => /new password/i.test(p)),
      prompts.join("|"),
    );
    r.t.end();
    const again = await authenticate(u.name, newPassword);
    assert.equal(again.auth?.code, PamCode.SUCCESS);
    assert.equal(again.account?.code, PamCode.SUCCESS);
    again.t.end();
  },
);

test("PAM: the session opens and hands back the PAM environment", { skip }, async (t) => {
  const u = createTestUser();
  t.after(() => u.remove());
  const r = await authenticate(u.name, u.password);
  assert.equal(r.account?.code, PamCode.SUCCESS);
  const { status, env } = await r.t.openSession();
  assert.equal(status?.code, PamCode.SUCCESS, status?.text);
  assert.equal(typeof env, "object");
  r.t.end();
});
