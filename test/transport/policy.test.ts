/**
 * messagePolicy.checkIncoming: the allow-list of message numbers by the sender's role and the phase,
 * checked case by case and, for the rules the CVE defences rest on, over every message number.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkIncoming,
  type Phase,
  type PolicyContext,
  type Role,
  type Verdict,
} from "../../src/transport/messagePolicy.js";
import { Msg } from "../../src/wire/index.js";

const PHASES: readonly Phase[] = ["kex-initial", "service", "userauth", "authenticated"];
const ROLES: readonly Role[] = ["client", "server"];
const ALL_TYPES = Array.from({ length: 256 }, (_, i) => i);

function ctx(o: Partial<PolicyContext> = {}): PolicyContext {
  return {
    peerRole: "client",
    phase: "service",
    peerInKex: false,
    strict: true,
    firstAfterNewKeys: false,
    ...o,
  };
}

/** Every context that can occur (firstAfterNewKeys only right after the first exchange). */
function allContexts(): PolicyContext[] {
  const out: PolicyContext[] = [];
  for (const peerRole of ROLES)
    for (const phase of PHASES)
      for (const peerInKex of [false, true])
        for (const strict of [false, true])
          for (const firstAfterNewKeys of [false, true]) {
            if (firstAfterNewKeys && (phase !== "service" || peerInKex)) continue;
            out.push({ peerRole, phase, peerInKex, strict, firstAfterNewKeys });
          }
  return out;
}

function expectVerdict(type: number, c: PolicyContext, verdict: Verdict): void {
  assert.equal(checkIncoming(type, c), verdict, `type ${type} in ${JSON.stringify(c)}`);
}

describe("every phase", () => {
  test("DISCONNECT is always accepted", () => {
    for (const c of allContexts()) expectVerdict(Msg.DISCONNECT, c, "accept");
  });

  test("a verdict is always one of the four", () => {
    for (const c of allContexts())
      for (const t of ALL_TYPES)
        assert.ok(["accept", "ignore", "unimplemented", "refuse"].includes(checkIncoming(t, c)));
  });
});

describe("the initial key exchange", () => {
  const initial = (o: Partial<PolicyContext> = {}): PolicyContext => ctx({ phase: "kex-initial", ...o });

  test("KEXINIT, NEWKEYS and the method messages 30-49 are accepted", () => {
    for (const strict of [false, true])
      for (const peerRole of ROLES)
        for (const t of [Msg.KEXINIT, Msg.NEWKEYS, ...Array.from({ length: 20 }, (_, i) => 30 + i)])
          expectVerdict(t, initial({ strict, peerRole }), "accept");
  });

  test("IGNORE, DEBUG and UNIMPLEMENTED: accepted without strict KEX, refused with it (Terrapin)", () => {
    for (const peerRole of ROLES)
      for (const t of [Msg.IGNORE, Msg.DEBUG, Msg.UNIMPLEMENTED]) {
        expectVerdict(t, initial({ strict: false, peerRole }), "accept");
        expectVerdict(t, initial({ strict: true, peerRole }), "refuse");
        expectVerdict(t, initial({ strict: true, peerRole, peerInKex: true }), "refuse");
      }
  });

  test("everything else is refused: services, EXT_INFO, auth, connection, PING, unknown numbers", () => {
    const allowed = new Set<number>([
      Msg.DISCONNECT,
      Msg.IGNORE,
      Msg.DEBUG,
      Msg.UNIMPLEMENTED,
      Msg.KEXINIT,
      Msg.NEWKEYS,
      ...Array.from({ length: 20 }, (_, i) => 30 + i),
    ]);
    for (const strict of [false, true])
      for (const peerRole of ROLES)
        for (const peerInKex of [false, true])
          for (const t of ALL_TYPES)
            if (!allowed.has(t)) expectVerdict(t, initial({ strict, peerRole, peerInKex }), "refuse");
  });
});

describe("a re-key (the peer has sent KEXINIT, not yet NEWKEYS)", () => {
  const rekey = (o: Partial<PolicyContext> = {}): PolicyContext => ctx({ peerInKex: true, ...o });

  test("transport generic messages and kex messages only (RFC 4253 §7.1); strict KEX does not apply", () => {
    for (const phase of ["service", "userauth", "authenticated"] as const)
      for (const peerRole of ROLES)
        for (const strict of [false, true]) {
          const c = rekey({ phase, peerRole, strict });
          for (const t of [
            Msg.IGNORE,
            Msg.DEBUG,
            Msg.UNIMPLEMENTED,
            Msg.KEXINIT,
            Msg.NEWKEYS,
            30,
            31,
            34,
            49,
          ])
            expectVerdict(t, c, "accept");
          for (const t of [
            Msg.SERVICE_REQUEST,
            Msg.SERVICE_ACCEPT,
            Msg.EXT_INFO,
            Msg.USERAUTH_REQUEST,
            Msg.USERAUTH_SUCCESS,
            Msg.GLOBAL_REQUEST,
            Msg.CHANNEL_DATA,
            Msg.PING,
            Msg.PONG,
            200,
          ])
            expectVerdict(t, c, "refuse");
        }
  });
});

describe("outside key exchange", () => {
  test("NEWKEYS and the kex method messages are refused; KEXINIT starts a re-key", () => {
    for (const phase of ["service", "userauth", "authenticated"] as const)
      for (const peerRole of ROLES) {
        expectVerdict(Msg.NEWKEYS, ctx({ phase, peerRole }), "refuse");
        for (let t = 30; t <= 49; t++) expectVerdict(t, ctx({ phase, peerRole }), "refuse");
        for (const t of [Msg.KEXINIT, Msg.IGNORE, Msg.DEBUG, Msg.UNIMPLEMENTED, Msg.PING, Msg.PONG])
          expectVerdict(t, ctx({ phase, peerRole }), "accept");
      }
  });

  test("EXT_INFO: as the first message after NEWKEYS, or from a server during authentication (RFC 8308 §2.4)", () => {
    for (const peerRole of ROLES)
      expectVerdict(Msg.EXT_INFO, ctx({ peerRole, firstAfterNewKeys: true }), "accept");
    expectVerdict(Msg.EXT_INFO, ctx({ peerRole: "server", phase: "userauth" }), "accept");
    // CVE-2023-46445: anywhere else it is refused.
    for (const peerRole of ROLES) {
      expectVerdict(Msg.EXT_INFO, ctx({ peerRole, phase: "service" }), "refuse");
      expectVerdict(Msg.EXT_INFO, ctx({ peerRole, phase: "authenticated" }), "refuse");
    }
    expectVerdict(Msg.EXT_INFO, ctx({ peerRole: "client", phase: "userauth" }), "refuse");
  });

  test("SERVICE_REQUEST only from a client, and only before a service is running", () => {
    expectVerdict(Msg.SERVICE_REQUEST, ctx({ peerRole: "client", phase: "service" }), "accept");
    expectVerdict(Msg.SERVICE_REQUEST, ctx({ peerRole: "server", phase: "service" }), "refuse");
    for (const phase of ["userauth", "authenticated"] as const)
      for (const peerRole of ROLES) expectVerdict(Msg.SERVICE_REQUEST, ctx({ peerRole, phase }), "refuse");
  });

  test("SERVICE_ACCEPT only from a server, and only before a service is running", () => {
    expectVerdict(Msg.SERVICE_ACCEPT, ctx({ peerRole: "server", phase: "service" }), "accept");
    expectVerdict(Msg.SERVICE_ACCEPT, ctx({ peerRole: "client", phase: "service" }), "refuse");
    for (const phase of ["userauth", "authenticated"] as const)
      for (const peerRole of ROLES) expectVerdict(Msg.SERVICE_ACCEPT, ctx({ peerRole, phase }), "refuse");
  });

  test("no authentication message before ssh-userauth is accepted (CVE-2023-46446, CVE-2018-10933)", () => {
    for (const peerRole of ROLES)
      for (let t = 50; t <= 79; t++) {
        expectVerdict(t, ctx({ peerRole, phase: "service" }), "refuse");
        expectVerdict(t, ctx({ peerRole, phase: "service", firstAfterNewKeys: true }), "refuse");
      }
  });

  test("during authentication, each side may send only its own messages", () => {
    const fromClient = new Set<number>([Msg.USERAUTH_REQUEST, Msg.USERAUTH_INFO_RESPONSE]);
    const fromServer = new Set<number>([
      Msg.USERAUTH_FAILURE,
      Msg.USERAUTH_SUCCESS,
      Msg.USERAUTH_BANNER,
      Msg.USERAUTH_PK_OK,
    ]);
    for (let t = 50; t <= 79; t++) {
      expectVerdict(
        t,
        ctx({ peerRole: "client", phase: "userauth" }),
        fromClient.has(t) ? "accept" : "refuse",
      );
      expectVerdict(
        t,
        ctx({ peerRole: "server", phase: "userauth" }),
        fromServer.has(t) ? "accept" : "refuse",
      );
    }
  });

  test("after authentication: a client's USERAUTH_REQUEST is ignored (RFC 4252 §5.1), the rest refused", () => {
    expectVerdict(Msg.USERAUTH_REQUEST, ctx({ peerRole: "client", phase: "authenticated" }), "ignore");
    for (let t = 51; t <= 79; t++)
      expectVerdict(t, ctx({ peerRole: "client", phase: "authenticated" }), "refuse");
    for (let t = 50; t <= 79; t++)
      expectVerdict(t, ctx({ peerRole: "server", phase: "authenticated" }), "refuse");
  });

  test("connection messages (80-127) are refused before authentication (CVE-2025-32433, CVE-2018-7750)", () => {
    for (const c of allContexts())
      if (c.phase !== "authenticated") for (let t = 80; t <= 127; t++) expectVerdict(t, c, "refuse");
  });

  test("after authentication known connection messages are accepted, unknown ones answered UNIMPLEMENTED", () => {
    const known = new Set([80, 81, 82, ...Array.from({ length: 11 }, (_, i) => 90 + i)]);
    for (const peerRole of ROLES)
      for (let t = 80; t <= 127; t++)
        expectVerdict(
          t,
          ctx({ peerRole, phase: "authenticated" }),
          known.has(t) ? "accept" : "unimplemented",
        );
  });

  test("unknown message numbers outside key exchange get UNIMPLEMENTED; known ones out of place are refused", () => {
    for (const phase of ["service", "userauth", "authenticated"] as const)
      for (const peerRole of ROLES) {
        const c = ctx({ phase, peerRole });
        for (const t of [0, 9, 19, 22, 29, 128, 191, 194, 255]) expectVerdict(t, c, "unimplemented");
        expectVerdict(Msg.NEWCOMPRESS, c, "refuse");
      }
  });

  test("a client never gets USERAUTH_SUCCESS accepted, in any context", () => {
    for (const c of allContexts())
      if (c.peerRole === "client")
        assert.notEqual(checkIncoming(Msg.USERAUTH_SUCCESS, c), "accept", JSON.stringify(c));
  });

  test("nothing but DISCONNECT is accepted from a server as an authentication message once authenticated", () => {
    for (const t of ALL_TYPES)
      if (t >= 50 && t <= 79) expectVerdict(t, ctx({ peerRole: "server", phase: "authenticated" }), "refuse");
  });
});
