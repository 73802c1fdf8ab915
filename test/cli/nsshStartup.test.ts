/**
 * What nssh loads to start: `nssh -V` none of the protocol stack, and a command run against a real sshd
 * nothing of what it does not use (SFTP, the agent, the server sides of auth and session, sshd_config),
 * while the run itself behaves as before (output, exit status, SendEnv sent without waiting for replies).
 * The modules are seen through a module.register() hook that writes each ES module URL nssh loads to a file,
 * and, for the bundle's runs, through a CommonJS preload that lists the files required and Node's own
 * modules loaded (the entry and its launcher are CommonJS, and the bundle is compiled, not imported).
 * The nssh command runs from one bundled file (scripts/bundle-commands.mjs, compiled by cli/launcher.cts),
 * so the module checks run the same main() from tsc's modules: what they load on start is what the bundle
 * initializes on start (esbuild keeps a module that is imported dynamically or required lazily, and
 * evaluates the rest at start).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { NSSH, nsshSkip, startNsshWorld, type NsshWorld } from "../helpers/nsshFixtures.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";

/** Modules nssh must not load for `nssh host command` (paths under dist/src, or package names). */
const UNUSED_BY_A_COMMAND = [
  "/src/sftp/",
  "/src/agent/",
  "/src/auth/serverAuth.js",
  "/src/auth/serverMethods.js",
  "/src/session/serverSession.js",
  "/src/session/processRunner.js",
  "/src/config/sshdConfig.js",
  "/src/daemon/",
  "/src/server/",
  "/node_modules/@noble/ciphers/",
  "/node_modules/bcrypt-pbkdf/",
];

/** Node's own modules, as process.moduleLoadList names them: its ES module loader, and zlib. */
const ESM_LOADER = "NativeModule internal/modules/esm/module_job";
const NODE_ZLIB = "NativeModule zlib";

/** The protocol stack: `nssh -V` needs none of it. */
const PROTOCOL_STACK = ["/src/transport/", "/src/crypto/", "/src/keys/", "/src/auth/", "/src/connection/"];

let dir: string;
/** src/cli/nssh.cts over tsc's modules (the command's entry before bundling). */
let modulesEntry: string;
const NSSH_MAIN = fileURLToPath(new URL("../../src/cli/nssh/main.js", import.meta.url));

/** Run nssh under the recording hook; resolves with the run and the module URLs it loaded. */
async function runRecorded(
  args: string[],
  env: NodeJS.ProcessEnv,
  nodeFlags: string[] = [],
  entry: string = modulesEntry,
) {
  const log = path.join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(log, "");
  const run = await runProgram(
    process.execPath,
    [...nodeFlags, "--import", pathToFileURL(path.join(dir, "register.mjs")).href, entry, ...args],
    { env: { ...env, NSSH_TEST_MODULE_LOG: log }, timeoutMs: 20_000 },
  );
  const modules = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
  return { run, modules };
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-startup-"));
  fs.writeFileSync(
    path.join(dir, "hooks.mjs"),
    [
      'import fs from "node:fs";',
      "export async function load(url, context, next) {",
      "  const result = await next(url, context);",
      '  if (url.startsWith("file:")) fs.appendFileSync(process.env.NSSH_TEST_MODULE_LOG, url + "\\n");',
      "  return result;",
      "}",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(dir, "recordLoads.cjs"),
    [
      'process.on("exit", () => {',
      "  const loaded = { required: Object.keys(require.cache), builtins: process.moduleLoadList };",
      '  require("node:fs").writeFileSync(process.env.NSSH_TEST_MODULE_LOG, JSON.stringify(loaded));',
      "});",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(dir, "register.mjs"),
    'import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n',
  );
  modulesEntry = path.join(dir, "nssh-modules.mjs");
  fs.writeFileSync(
    modulesEntry,
    [
      `import { main } from ${JSON.stringify(pathToFileURL(NSSH_MAIN).href)};`,
      "const status = await main(process.argv.slice(2));",
      'process.stdout.write("", () => process.exit(status));',
    ].join("\n"),
  );
});

/**
 * Run `node [preload] FILE args` with a CommonJS preload that writes, at exit, the CommonJS modules the
 * process required and Node's own modules it loaded (process.moduleLoadList).
 */
async function runLoadRecorded(file: string, args: string[], env: NodeJS.ProcessEnv = envWithoutAgent()) {
  const log = path.join(dir, `loaded-${Math.random().toString(36).slice(2)}.json`);
  const run = await runProgram(
    process.execPath,
    ["--require", path.join(dir, "recordLoads.cjs"), file, ...args],
    {
      env: { ...env, NSSH_TEST_MODULE_LOG: log },
      timeoutMs: 20_000,
    },
  );
  const loaded = JSON.parse(fs.readFileSync(log, "utf8")) as { required: string[]; builtins: string[] };
  return { run, ...loaded };
}

test("the nssh command runs from its bundle: -V requires only the launcher's modules", async () => {
  const { run, required, builtins } = await runLoadRecorded(NSSH, ["-V"]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /^nssh_\d+\.\d+\.\d+, Node\.js/, "the version comes from package.json");
  const cli = path.dirname(NSSH);
  const launcher = ["compileCache.cjs", "launcher.cjs", "runWorthCaching.cjs"].map((m) => path.join(cli, m));
  assert.deepEqual(
    required.filter((m) => m !== path.join(dir, "recordLoads.cjs")).sort(),
    [NSSH, ...launcher].sort(),
  );
  // The entry is CommonJS so that a start does not set up Node's ES module loader (cli/launcher.cts),
  // unless this Node loads it for every process anyway; an ES module entry does load it (the control).
  const bare = await runLoadRecorded("-e", ["0"]);
  const asModule = await runLoadRecorded(modulesEntry, ["-V"]);
  assert.equal(asModule.run.status, 0, asModule.run.stderr);
  assert.ok(asModule.builtins.includes(ESM_LOADER), `an ES module entry loads ${ESM_LOADER}`);
  if (!bare.builtins.includes(ESM_LOADER))
    assert.ok(!builtins.includes(ESM_LOADER), "the ES module loader started");
});

test("the entries' former names (nssh.js and the others) still run the commands", async () => {
  const cli = path.dirname(NSSH);
  const nssh = await runProgram(process.execPath, [path.join(cli, "nssh.js"), "-V"], {
    env: envWithoutAgent(),
    timeoutMs: 20_000,
  });
  assert.equal(nssh.status, 0, nssh.stderr);
  assert.match(nssh.stderr, /^nssh_\d+\.\d+\.\d+, Node\.js/, "the program name is still nssh");
  const server = await runProgram(process.execPath, [path.join(cli, "nsftp-server.js"), "-Q", "requests"], {
    env: envWithoutAgent(),
    timeoutMs: 20_000,
  });
  assert.equal(server.status, 0, server.stderr);
  assert.match(server.stdout, /^open$/m);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("nssh -V prints its version and loads none of the protocol stack", async () => {
  const { run, modules } = await runRecorded(["-V"], envWithoutAgent());
  assert.equal(run.status, 0);
  assert.match(run.stderr, /^nssh_\S+, Node\.js v\d+\.\d+\.\d+, OpenSSL \S+\n$/);
  assert.ok(
    modules.some((m) => m.endsWith("/src/cli/nssh/main.js")),
    "the hook sees nssh's own modules",
  );
  const loaded = modules.filter((m) => PROTOCOL_STACK.some((p) => m.includes(p)));
  assert.deepEqual(loaded, []);
});

describe("nssh running a command against OpenSSH's sshd", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  before(async () => {
    w = await startNsshWorld(["AcceptEnv NSSH_*"]);
  });
  after(async () => {
    await w?.stop();
  });

  for (const kex of ["default", "curve25519-sha256"]) {
    test(`${kex} key exchange: output, status and SendEnv as ever; no SFTP, agent or server-side module loaded`, async () => {
      const { run, modules } = await runRecorded(
        [
          ...w.baseArgs(["-o", "SendEnv=NSSH_FIRST NSSH_SECOND"]),
          ...(kex === "default" ? [] : ["-o", `KexAlgorithms=${kex}`]),
          "127.0.0.1",
          'printf "%s,%s" "$NSSH_FIRST" "$NSSH_SECOND"; exit 7',
        ],
        w.env({ NSSH_FIRST: "one", NSSH_SECOND: "two" }),
      );
      assert.equal(run.timedOut, false);
      // (stderr holds sshd's "Could not chdir to home directory": the throwaway user has no home.)
      assert.doesNotMatch(run.stderr, /^nssh:|warning/im);
      assert.equal(run.stdout, "one,two");
      assert.equal(run.status, 7);
      assert.ok(modules.some((m) => m.endsWith("/src/transport/transport.js")));
      const unused = modules.filter((m) => UNUSED_BY_A_COMMAND.some((p) => m.includes(p)));
      assert.deepEqual(unused, []);
    });
  }

  test("the bundle's login loads neither Node's ES module loader nor its zlib", async () => {
    const { run, builtins } = await runLoadRecorded(
      NSSH,
      [...w.baseArgs(), "127.0.0.1", "echo logged in"],
      w.env(),
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "logged in\n");
    assert.ok(!builtins.includes(NODE_ZLIB), "node:zlib loaded with compression off");
    const bare = await runLoadRecorded("-e", ["0"]);
    if (!bare.builtins.includes(ESM_LOADER))
      assert.ok(!builtins.includes(ESM_LOADER), "the ES module loader started");
  });

  const canSwitchOff = process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module");
  test(
    "with require() of ES modules switched off, the KEMs load with the crypto layer and a login works",
    { skip: canSwitchOff ? false : "this Node cannot switch require() of ES modules off" },
    async () => {
      const { run } = await runRecorded(
        [...w.baseArgs(), "127.0.0.1", "echo logged in"],
        w.env(),
        ["--no-experimental-require-module"],
        NSSH,
      );
      assert.equal(run.timedOut, false);
      assert.doesNotMatch(run.stderr, /^nssh:|warning/im);
      assert.equal(run.stdout, "logged in\n");
      assert.equal(run.status, 0);
    },
  );
});
