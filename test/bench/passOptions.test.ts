/**
 * The bench's command line and which client × server pairs a pass runs (--quick, --targets). No timing
 * is asserted here (benchmarks are not tests).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBenchArguments } from "../../bench/benchArgs.js";
import { pairRuns } from "../../bench/pairs.js";

const SECTIONS = ["ciphers", "channel", "sftp", "scp", "latency", "rate", "memory", "ceilings"];

describe("bench command line", () => {
  it("reads the options and the sections", () => {
    assert.deepEqual(parseBenchArguments([], SECTIONS), {
      quick: false,
      targetsOnly: false,
      keep: false,
      only: null,
    });
    const a = parseBenchArguments(["--quick", "--targets", "--only=channel,sftp", "--keep"], SECTIONS);
    assert.equal(a.quick, true);
    assert.equal(a.targetsOnly, true);
    assert.equal(a.keep, true);
    assert.deepEqual([...a.only!], ["channel", "sftp"]);
  });

  it("refuses an option or a section it does not know, naming it", () => {
    assert.throws(() => parseBenchArguments(["--fast"], SECTIONS), /unknown option --fast\nusage:/);
    assert.throws(
      () => parseBenchArguments(["--only=channel,chanel"], SECTIONS),
      /unknown section chanel \(sections: ciphers, channel/,
    );
  });
});

describe("bench pairs", () => {
  const full = { quick: false, targetsOnly: false };
  const quick = { quick: true, targetsOnly: false };
  const targets = { quick: false, targetsOnly: true };

  it("runs every pair for every cipher in a full pass", () => {
    assert.equal(pairRuns(full, "channel", 2, "ssh2 client", "nssh"), true);
    assert.equal(pairRuns(full, "sftp", 1, "OpenSSH sftp", "ssh2"), true);
  });

  it("runs the first cipher's whole matrix and each system's own pair after it in --quick", () => {
    assert.equal(pairRuns(quick, "channel", 0, "ssh2 client", "nssh"), true);
    assert.equal(pairRuns(quick, "channel", 1, "ssh2 client", "nssh"), false);
    assert.equal(pairRuns(quick, "channel", 1, "nssh library", "nssh"), true);
    assert.equal(pairRuns(quick, "channel", 1, "OpenSSH ssh", "openssh"), true);
    // SFTP against ssh2's server: ssh2's client only.
    assert.equal(pairRuns(quick, "sftp", 0, "ssh2 client", "ssh2"), true);
    assert.equal(pairRuns(quick, "sftp", 0, "nssh library", "ssh2"), false);
    assert.equal(pairRuns(quick, "sftp", 0, "nssh library", "openssh"), true);
    // SFTP and scp: the first cipher only.
    assert.equal(pairRuns(quick, "sftp", 1, "nsftp", "nssh"), false);
    assert.equal(pairRuns(quick, "scp", 1, "nscp", "nssh"), false);
    assert.equal(pairRuns(quick, "scp", 0, "nscp", "openssh"), true);
  });

  it("runs the same target pairs with --quick --targets as with --targets", () => {
    const quickTargets = { quick: true, targetsOnly: true };
    assert.equal(pairRuns(quickTargets, "sftp", 0, "nssh library", "ssh2"), true);
    assert.equal(pairRuns(quickTargets, "channel", 2, "nssh", "nssh"), true);
    assert.equal(pairRuns(quickTargets, "channel", 0, "ssh2 client", "nssh"), false);
  });

  it("runs only the pairs the targets compare with --targets", () => {
    // Throughput against OpenSSH: each system's own pair, every cipher.
    for (const cipher of [0, 1, 2]) {
      assert.equal(pairRuns(targets, "channel", cipher, "nssh", "nssh"), true);
      assert.equal(pairRuns(targets, "channel", cipher, "nssh library", "nssh"), true);
      assert.equal(pairRuns(targets, "channel", cipher, "OpenSSH ssh", "openssh"), true);
      assert.equal(pairRuns(targets, "sftp", cipher, "nsftp", "nssh"), true);
      assert.equal(pairRuns(targets, "sftp", cipher, "OpenSSH sftp", "openssh"), true);
    }
    assert.equal(pairRuns(targets, "channel", 0, "nssh", "openssh"), false);
    assert.equal(pairRuns(targets, "channel", 0, "OpenSSH ssh", "nssh"), false);
    // The library against ssh2's fastGet/fastPut on the same server: SFTP, first cipher.
    for (const server of ["nssh", "openssh", "ssh2"] as const) {
      assert.equal(pairRuns(targets, "sftp", 0, "nssh library", server), true);
      assert.equal(pairRuns(targets, "sftp", 0, "ssh2 client", server), true);
    }
    assert.equal(pairRuns(targets, "sftp", 1, "nssh library", "openssh"), false);
    assert.equal(pairRuns(targets, "sftp", 0, "OpenSSH sftp", "nssh"), false);
  });
});
