/**
 * `npm run bench [-- --only NAME[,NAME]]`: runs every part (or the named ones) against the real
 * Worker under `wrangler dev` with local fakes, prints the table and writes bench/results.json.
 * Everything it starts is stopped at the end, on failure and on Ctrl-C.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { bundle } from "./bundle.ts";
import { doctor } from "./doctor.ts";
import { intake } from "./intake.ts";
import type { Part } from "./part.ts";
import { plan } from "./plan.ts";
import { reaction } from "./reaction.ts";
import { formatMarkdown, formatTable, type Row, unavailable, writeResults } from "./results.ts";
import { storm } from "./storm.ts";
import { ROOT, stopAll } from "./world.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const PARTS: Part[] = [intake, storm, reaction, plan, bundle, doctor];
const USAGE = `usage: npm run bench [-- --only ${PARTS.map((p) => p.name).join("|")}[,…]] [--before REV] [--markdown] [--out FILE]
  --only      run only these parts
  --before    also measure intake on the Worker as it was at commit REV (a before/after in one run)
  --markdown  print the table as Markdown
  --out       write the rows here instead of bench/results.json`;

let values: { only?: string; before?: string; markdown?: boolean; out?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      only: { type: "string" },
      before: { type: "string" },
      markdown: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  }));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const wanted = values.only?.split(",").map((s) => s.trim()) ?? PARTS.map((p) => p.name);
const unknown = wanted.filter((name) => !PARTS.some((p) => p.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown part: ${unknown.join(", ")}\n${USAGE}\n`);
  process.exit(2);
}

const started = performance.now();
const say = (line: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const rows: Row[] = [];
let failed = false;
for (const part of PARTS.filter((p) => wanted.includes(p.name))) {
  try {
    rows.push(...(await part.run({ say, before: values.before ?? null })));
  } catch (error) {
    failed = true;
    say(`${part.name} failed: ${(error as Error).stack ?? error}`);
    rows.push(unavailable(`${part.name}`, `failed: ${(error as Error).message.split("\n")[0]}`));
  } finally {
    await stopAll();
  }
}
const out = values.out ?? path.join(ROOT, "bench", "results.json");
writeResults(out, rows);
process.stdout.write(`${values.markdown ? formatMarkdown(rows) : formatTable(rows)}\n`);
say(
  `done in ${((performance.now() - started) / 1000).toFixed(0)} s; wrote ${path.relative(process.cwd(), out)}`,
);
process.exit(failed ? 1 : 0);
