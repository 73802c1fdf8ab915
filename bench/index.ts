/**
 * `npm run bench` (node dist/bench/index.js [--quick]): prints the machine, runs each section and
 * writes the report to bench/results/latest.md. Add a case by adding a section to SECTIONS.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { runCipherBench } from "./cipherThroughput.js";

interface Section {
  title: string;
  run(opts: { quick: boolean }): Promise<string>;
}

const SECTIONS: Section[] = [{ title: "Packet ciphers", run: runCipherBench }];

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  return [
    `- CPU: ${cpu}, ${availableParallelism()} cores`,
    `- Node ${process.version} (OpenSSL ${process.versions.openssl}), ${process.platform}-${process.arch}`,
    `- Date: ${new Date().toISOString()}`,
  ].join("\n");
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const parts = [`# nssh benchmarks${quick ? " (quick)" : ""}`, "", machine()];
  console.log(parts.join("\n"));
  for (const section of SECTIONS) {
    const body = await section.run({ quick });
    const text = `\n## ${section.title}\n\n${body}`;
    console.log(text);
    parts.push(text);
  }
  // dist/bench/index.js -> <repo>/bench/results/
  const dir = new URL("../../bench/results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL("latest.md", dir), parts.join("\n") + "\n");
  console.log(`\nwritten to ${new URL("latest.md", dir).pathname}`);
}

await main();
