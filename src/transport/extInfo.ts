/** SSH_MSG_EXT_INFO (RFC 8308 §2.3): a bounded list of name/value extensions. */
import { Msg, SshError, SshReader, SshWriter } from "../wire/index.js";

/** More extensions than any implementation sends; a peer sending more is hostile. */
const MAX_EXTENSIONS = 64;

export function encodeExtInfo(extensions: ReadonlyMap<string, string | Buffer>): Buffer {
  const w = new SshWriter().byte(Msg.EXT_INFO).uint32(extensions.size);
  for (const [name, value] of extensions) w.string(name).string(value);
  return Buffer.from(w.toBuffer());
}

export function parseExtInfo(payload: Buffer): Map<string, Buffer> {
  const r = new SshReader(payload, 1);
  const count = r.uint32();
  if (count > MAX_EXTENSIONS) throw new SshError("MALFORMED", `EXT_INFO lists ${count} extensions`);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const name = r.ascii(256, "extension name");
    out.set(name, Buffer.from(r.string(64 * 1024, "extension value")));
  }
  r.done("EXT_INFO");
  return out;
}
