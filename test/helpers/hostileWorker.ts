/**
 * A compromised pre-auth worker, for test/daemon/privsep/monitorHostileWorker.test.ts: it speaks the
 * monitor's IPC but sends what a worker must not: malformed envelopes, unknown requests, extra fields, a
 * signature request for data that is no exchange hash, and a login claim nothing earned.
 */
import type net from "node:net";
import { IpcPeer, type IpcChannel } from "../../src/daemon/privsep/ipc.js";

const peer = new IpcPeer(process as unknown as IpcChannel, { onRefused: () => {} });
const any = (v: unknown): unknown => v;
peer.handle("configure", any, () => true);
peer.handle(
  "connection",
  any,
  (args, socket: net.Socket | undefined) => {
    const conn = (args as { conn: number }).conn;
    void (async () => {
      process.send!({ t: "req", id: -1, op: "sign" }); // no valid id
      process.send!("not even an object");
      const outcomes: string[] = [];
      const attempt = async (what: string, p: Promise<unknown>): Promise<void> => {
        outcomes.push(
          await p.then(
            (v) => `${what}: answered ${JSON.stringify(v)}`,
            (e: Error) => `${what}: ${e.message}`,
          ),
        );
      };
      await attempt("readFile", peer.request("readFile", { path: "/etc/shadow" }, any));
      await attempt(
        "extra field",
        peer.request("checkPassword", { conn, username: "root", password: "x", uid: 0 }, any),
      );
      await attempt(
        "other connection",
        peer.request("userExists", { conn: conn + 1000, username: "root" }, any),
      );
      await attempt(
        "sign",
        peer.request("sign", { conn, key: 0, algorithm: "ssh-ed25519", data: Buffer.alloc(200) }, any),
      );
      const handoff = {
        localVersion: "SSH-2.0-x",
        peerVersion: "SSH-2.0-y",
        sessionId: Buffer.alloc(32),
        negotiated: {
          kex: "curve25519-sha256",
          hostKey: "ssh-ed25519",
          cipherC2S: "aes128-ctr",
          cipherS2C: "aes128-ctr",
          macC2S: "hmac-sha2-256",
          macS2C: "hmac-sha2-256",
          compressionC2S: "none",
          compressionS2C: "none",
        },
        hostKeyBlob: Buffer.alloc(51),
        strictKex: true,
        peerExtensions: [],
        incoming: {
          seq: 3,
          bytes: 0,
          packets: 0,
          protection: {
            cipher: "aes128-ctr",
            mac: "hmac-sha2-256",
            key: Buffer.alloc(16),
            iv: Buffer.alloc(16),
            macKey: Buffer.alloc(32),
          },
        },
        outgoing: {
          seq: 3,
          bytes: 0,
          packets: 0,
          protection: {
            cipher: "aes128-ctr",
            mac: "hmac-sha2-256",
            key: Buffer.alloc(16),
            iv: Buffer.alloc(16),
            macKey: Buffer.alloc(32),
          },
        },
        pendingInput: Buffer.alloc(0),
      };
      await attempt(
        "unearned login",
        peer.request(
          "authenticated",
          { conn, username: "root", methods: ["publickey"], handoff },
          any,
          socket,
        ),
      );
      await peer.request(
        "log",
        { level: "info", message: `hostile worker outcomes: ${outcomes.join(" | ")}` },
        any,
      );
    })();
    return true;
  },
  { takesSocket: true },
);
void peer.request("ready", {}, any);
