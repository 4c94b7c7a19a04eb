/**
 * Row 5, the bundle: the Worker as `wrangler deploy --dry-run --minify` builds it, gzipped, against a
 * hello-world Hono Worker generated in a temporary folder and built the same way in the same run;
 * and the cold start under `wrangler dev` — from spawning it to the first 200 — median of three
 * starts each, the hello-world Worker's being the baseline.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "smol-toml";
import type { Part } from "./part.ts";
import { median, row } from "./results.ts";
import { ROOT, startWorld } from "./world.ts";

const run = promisify(execFile);
const STARTS = 3;

/** "Total Upload: 1180.65 KiB / gzip: 266.30 KiB" → both sizes in KiB. */
export function parseUploadSize(output: string): { raw: number; gzip: number } {
  const match = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);
  if (!match) throw new Error("wrangler printed no upload size");
  return { raw: Number(match[1]), gzip: Number(match[2]) };
}

async function dryRun(cwd: string, config: string): Promise<{ raw: number; gzip: number }> {
  const outdir = mkdtempSync(path.join(tmpdir(), "atlas-responder-bench-build-"));
  try {
    const { stdout, stderr } = await run(
      path.join(ROOT, "node_modules", ".bin", "wrangler"),
      ["deploy", "--dry-run", "--minify", "--config", config, "--outdir", outdir],
      { cwd, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } },
    );
    return parseUploadSize(`${stdout}\n${stderr}`);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A hello-world Hono Worker with the responder's compatibility settings, in a temporary folder. */
function helloWorld(): { dir: string; toml: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "atlas-responder-bench-hello-"));
  mkdirSync(path.join(dir, "src"));
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  writeFileSync(
    path.join(dir, "src", "index.ts"),
    'import { Hono } from "hono";\nconst app = new Hono();\napp.get("/", (c) => c.text("Hello Hono!"));\nexport default app;\n',
  );
  const repo = parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")) as Record<string, unknown>;
  const toml = stringify({
    name: "hello-hono",
    main: path.join(dir, "src", "index.ts"),
    compatibility_date: repo.compatibility_date,
    compatibility_flags: repo.compatibility_flags ?? [],
  });
  writeFileSync(path.join(dir, "wrangler.toml"), toml);
  return { dir, toml, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const bundle: Part = {
  name: "bundle",
  async run({ say }) {
    const hello = helloWorld();
    try {
      const responder = await dryRun(ROOT, path.join(ROOT, "wrangler.toml"));
      const baseline = await dryRun(hello.dir, path.join(hello.dir, "wrangler.toml"));
      say(
        `bundle: responder ${responder.raw} KiB / gzip ${responder.gzip} KiB; hello-world Hono ${baseline.raw} / ${baseline.gzip} KiB`,
      );

      const starts: number[] = [];
      const helloStarts: number[] = [];
      for (let i = 0; i < STARTS; i++) {
        const h = await startWorld({ vars: () => ({}), wranglerToml: hello.toml, readyPath: "/" });
        helloStarts.push(h.startMs);
        await h.close();
        const w = await startWorld({ vars: () => ({ RESPONDER_MODE: "notify" }) });
        starts.push(w.startMs);
        await w.close();
      }
      say(
        `cold start: responder ${starts.map((s) => s.toFixed(0)).join(" ")} ms; hello ${helloStarts.map((s) => s.toFixed(0)).join(" ")} ms`,
      );
      return [
        row({
          name: "bundle gzip (wrangler --dry-run --minify)",
          value: responder.gzip,
          unit: "KiB",
          goal: { max: 300 },
          onRatio: false,
          baseline: baseline.gzip,
        }),
        row({ name: "bundle raw (minified)", value: responder.raw, unit: "KiB", baseline: baseline.raw }),
        row({
          name: "cold start to first 200 (wrangler dev, median of 3)",
          value: median(starts),
          unit: "ms",
          baseline: median(helloStarts),
        }),
      ];
    } finally {
      hello.remove();
    }
  },
};
