/**
 * Just enough of RFC 4252 §7 (publickey) to reach the authenticated state over a bare Transport, so the
 * transport's post-auth behaviour (re-keying, delayed compression) can be tested against a real sshd
 * before the auth layer exists. Not a model for the auth layer.
 */
import { PrivateKey } from "../../src/keys/index.js";
import { Transport } from "../../src/transport/index.js";
import { Msg, SshReader, SshWriter } from "../../src/wire/index.js";

const queues = new WeakMap<
  Transport,
  { items: Array<{ type: number; payload: Buffer }>; wake: (() => void) | null }
>();

/** The next message of the layers above (50 and up); messages are queued from the first call on. */
export async function nextMessage(t: Transport): Promise<{ type: number; payload: Buffer }> {
  let q = queues.get(t);
  if (!q) {
    const created = {
      items: [] as Array<{ type: number; payload: Buffer }>,
      wake: null as (() => void) | null,
    };
    q = created;
    queues.set(t, created);
    t.setMessageHandler((type, payload) => {
      created.items.push({ type, payload: Buffer.from(payload) });
      created.wake?.();
    });
    t.on("close", () => created.wake?.());
  }
  while (q.items.length === 0) {
    if (t.isClosed) throw new Error("transport closed");
    await new Promise<void>((resolve) => (q.wake = resolve));
    q.wake = null;
  }
  return q.items.shift()!;
}

export async function authenticateWithKey(t: Transport, user: string, key: PrivateKey): Promise<void> {
  await t.requestService("ssh-userauth");
  const alg = key.defaultSignatureAlgorithm();
  const signed = new SshWriter()
    .string(t.sessionId!)
    .byte(Msg.USERAUTH_REQUEST)
    .string(user)
    .string("ssh-connection")
    .string("publickey")
    .boolean(true)
    .string(alg)
    .string(key.publicKey.blob)
    .toBuffer();
  const request = new SshWriter()
    .byte(Msg.USERAUTH_REQUEST)
    .string(user)
    .string("ssh-connection")
    .string("publickey")
    .boolean(true)
    .string(alg)
    .string(key.publicKey.blob)
    .string(key.sign(Buffer.from(signed), alg));
  t.send(Buffer.from(request.toBuffer()));
  for (;;) {
    const { type, payload } = await nextMessage(t);
    if (type === Msg.USERAUTH_BANNER) continue;
    if (type === Msg.USERAUTH_SUCCESS) return;
    const methods = type === Msg.USERAUTH_FAILURE ? new SshReader(payload, 1).nameList().join(",") : "";
    throw new Error(`authentication failed (message ${type} ${methods})`);
  }
}

/** A keepalive@openssh.com global request with want-reply: any answer proves packets flow both ways. */
export async function roundTrip(t: Transport): Promise<number> {
  t.send(
    Buffer.from(
      new SshWriter().byte(Msg.GLOBAL_REQUEST).string("keepalive@openssh.com").boolean(true).toBuffer(),
    ),
  );
  let next = await nextMessage(t);
  // sshd sends its own requests (hostkeys-00@openssh.com, no reply wanted) after login: skip them.
  while (next.type === Msg.GLOBAL_REQUEST) next = await nextMessage(t);
  return next.type;
}
