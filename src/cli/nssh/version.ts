/** `nssh -V`'s line, apart from -Q's algorithm tables so that printing it loads no algorithm. */
import fs from "node:fs";

let line: string | undefined;

/** `nssh -V`: our version, the runtime and the OpenSSL doing the arithmetic (ssh prints its OpenSSL too). */
export function versionLine(): string {
  if (line !== undefined) return line;
  let version = "0.0.0";
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    version = pkg.version ?? version;
  } catch (err) {
    void err; // installed without package.json next to dist: the version is unknown
  }
  line = `nssh_${version}, Node.js ${process.version}, OpenSSL ${process.versions.openssl}`;
  return line;
}
