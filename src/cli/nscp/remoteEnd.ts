/** nscp run by a remote scp or nscp as the far end of a legacy copy: `-t` (sink) or `-f` (source), on stdio. */
import { scpReceive } from "../../scp/sink.js";
import { scpSend } from "../../scp/source.js";
import { ScpStream } from "../../scp/scpStream.js";
import { errorText } from "../nsftp/treeTransfer.js";
import type { Settings } from "./settings.js";

/** Speak to the other end over stdio; an error is reported on stderr and fails the run. */
async function overStdio(speak: (io: ScpStream) => Promise<boolean>): Promise<number> {
  const io = new ScpStream(process.stdin, process.stdout);
  try {
    return (await speak(io)) ? 0 : 1;
  } catch (err) {
    process.stderr.write(`scp: ${errorText(err)}\n`);
    return 1;
  }
}

/** `scp -t target`: receive into the one target operand. */
export async function runRemoteSink(operands: string[], s: Settings, mustBeDir: boolean): Promise<number> {
  if (operands.length !== 1) {
    process.stderr.write("scp: ambiguous target\n");
    return 1;
  }
  const errs: string[] = [];
  return overStdio((io) =>
    scpReceive(io, operands[0]!, {
      recursive: s.recursive,
      preserve: s.preserve,
      targetIsDirectory: mustBeDir,
      warn: (m) => errs.push(m),
    }),
  );
}

/** `scp -f files...`: send them once the sink says it is ready. */
export async function runRemoteSource(operands: string[], s: Settings): Promise<number> {
  return overStdio(async (io) => {
    const first = await io.response();
    if (first !== null) return false;
    // Messages go to the sink through the protocol; nothing on our stdout but the protocol.
    const ok = await scpSend(io, operands, { recursive: s.recursive, preserve: s.preserve, warn: () => {} });
    io.end();
    return ok;
  });
}
