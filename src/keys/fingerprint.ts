/**
 * Fingerprints as ssh-keygen(1) -l prints them (`256 SHA256:… comment (ED25519)`), and OpenSSH's
 * "randomart" picture (`-lv`, VisualHostKey), a port of sshkey.c's fingerprint_randomart ("drunken bishop").
 */
import { createHash } from "node:crypto";
import type { KeyType } from "./keyTypes.js";
import { PrivateKey } from "./privateKey.js";
import type { PublicKey } from "./publicKey.js";

export type FingerprintHash = "sha256" | "md5";

/** sshkey_type(): the short name ssh-keygen shows in parentheses and in the randomart title. */
const TYPE_LABEL: Record<KeyType, string> = {
  "ssh-ed25519": "ED25519",
  "ecdsa-sha2-nistp256": "ECDSA",
  "ecdsa-sha2-nistp384": "ECDSA",
  "ecdsa-sha2-nistp521": "ECDSA",
  "ssh-rsa": "RSA",
};

const pub = (key: PublicKey | PrivateKey): PublicKey => (key instanceof PrivateKey ? key.publicKey : key);

export function keyTypeLabel(key: PublicKey | PrivateKey): string {
  return TYPE_LABEL[pub(key).type];
}

/** `SHA256:base64` (unpadded) or `MD5:hex:pairs`. */
export function fingerprint(key: PublicKey | PrivateKey, hash: FingerprintHash = "sha256"): string {
  const k = pub(key);
  return hash === "md5" ? k.fingerprintMd5() : k.fingerprintSha256();
}

/** Exactly ssh-keygen -l's line: `bits fingerprint comment (TYPE)`, with "no comment" for an empty one. */
export function fingerprintLine(
  key: PublicKey | PrivateKey,
  comment: string,
  hash: FingerprintHash = "sha256",
): string {
  const k = pub(key);
  return `${k.bits} ${fingerprint(k, hash)} ${comment || "no comment"} (${TYPE_LABEL[k.type]})`;
}

const FLDBASE = 8;
const FLDSIZE_Y = FLDBASE + 1;
const FLDSIZE_X = FLDBASE * 2 + 1;
/** Characters for how often the bishop visited a square; S and E mark start and end. */
const AUGMENTATION = " .o+=*BOX@%&#/^SE";

/** The randomart box ssh-keygen -lv prints under the fingerprint line (no trailing newline). */
export function randomart(key: PublicKey | PrivateKey, hash: FingerprintHash = "sha256"): string {
  const k = pub(key);
  const digest = createHash(hash).update(k.blob).digest();
  const len = AUGMENTATION.length - 1;
  const field: number[][] = Array.from({ length: FLDSIZE_X }, () => new Array<number>(FLDSIZE_Y).fill(0));
  let x = FLDSIZE_X >> 1;
  let y = FLDSIZE_Y >> 1;
  for (const byte of digest) {
    let input = byte;
    // Each byte is four 2-bit moves, least significant first: bit 0 is x, bit 1 is y.
    for (let b = 0; b < 4; b++) {
      x = Math.min(Math.max(x + (input & 1 ? 1 : -1), 0), FLDSIZE_X - 1);
      y = Math.min(Math.max(y + (input & 2 ? 1 : -1), 0), FLDSIZE_Y - 1);
      if (field[x]![y]! < len - 2) field[x]![y]!++;
      input >>= 2;
    }
  }
  field[FLDSIZE_X >> 1]![FLDSIZE_Y >> 1] = len - 1;
  field[x]![y] = len;

  // The title must fit the 17-column border (the C code's snprintf into title[FLDSIZE_X]).
  let title = `[${TYPE_LABEL[k.type]} ${k.bits}]`;
  if (title.length > FLDSIZE_X) title = `[${TYPE_LABEL[k.type]}]`;
  title = title.slice(0, FLDSIZE_X - 1);
  const footer = `[${hash === "md5" ? "MD5" : "SHA256"}]`;
  const border = (label: string): string => {
    const left = (FLDSIZE_X - label.length) >> 1;
    return "+" + "-".repeat(left) + label + "-".repeat(FLDSIZE_X - left - label.length) + "+";
  };
  const rows = [border(title)];
  for (let yy = 0; yy < FLDSIZE_Y; yy++) {
    let row = "|";
    for (let xx = 0; xx < FLDSIZE_X; xx++) row += AUGMENTATION[Math.min(field[xx]![yy]!, len)];
    rows.push(row + "|");
  }
  rows.push(border(footer));
  return rows.join("\n");
}
