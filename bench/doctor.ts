/**
 * Row 7, doctor: `npm run doctor -- PATH --json` over a generated 2,000-file Next.js app (app router
 * route handlers, server actions, components, utility modules, one cached client module and a few
 * handlers that leak a client per request), timed from spawn to exit, median of three runs.
 * If the doctor CLI is not in this checkout, the row says so instead of failing.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Part } from "./part.ts";
import { median, row, unavailable } from "./results.ts";
import { ROOT } from "./world.ts";

const FILES = 2000;
const RUNS = 3;
const CLI = path.join(ROOT, "src", "doctor", "cli.ts");

/** Writes the app; answers how many source files it holds. */
export function generateApp(dir: string, files = FILES): number {
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  write(
    "package.json",
    JSON.stringify(
      { name: "big-shop", dependencies: { next: "15.0.0", mongodb: "6.10.0", react: "19.0.0" } },
      null,
      2,
    ),
  );
  write("vercel.json", "{}\n");
  write(
    "lib/mongodb.ts",
    `import { MongoClient } from "mongodb";
const uri = process.env.MONGODB_URI!;
const globalForMongo = globalThis as unknown as { _mongoClientPromise?: Promise<MongoClient> };
if (!globalForMongo._mongoClientPromise) {
  globalForMongo._mongoClientPromise = new MongoClient(uri, { maxPoolSize: 5, maxIdleTimeMS: 10000, appName: "big-shop" }).connect();
}
export default globalForMongo._mongoClientPromise;
`,
  );
  let count = 1;
  const utils = Math.floor((files - 1) * 0.3);
  const components = Math.floor((files - 1) * 0.4);
  const routes = files - 1 - utils - components;
  for (let i = 0; i < utils; i++, count++) {
    write(
      `lib/util/u${i}.ts`,
      `export interface Item${i} { id: string; price: number; tags: string[] }
export function normalise${i}(item: Item${i}): Item${i} {
  const tags = item.tags.map((t) => t.trim().toLowerCase()).filter(Boolean);
  return { ...item, price: Math.round(item.price * 100) / 100, tags };
}
export const total${i} = (items: Item${i}[]) => items.reduce((sum, it) => sum + it.price, 0);
`,
    );
  }
  for (let i = 0; i < components; i++, count++) {
    write(
      `components/c${i}/Card${i}.tsx`,
      `import { normalise${i % utils} } from "../../lib/util/u${i % utils}";
export default function Card${i}({ item }: { item: { id: string; price: number; tags: string[] } }) {
  const shown = normalise${i % utils}(item);
  return (
    <div className="card">
      <h2>{shown.id}</h2>
      <ul>{shown.tags.map((t) => <li key={t}>{t}</li>)}</ul>
      <p>{shown.price.toFixed(2)}</p>
    </div>
  );
}
`,
    );
  }
  for (let i = 0; i < routes; i++, count++) {
    // One route in a hundred leaks: a client per request, never closed.
    const leaky = i % 100 === 7;
    write(
      `app/api/r${i}/route.ts`,
      leaky
        ? `import { MongoClient } from "mongodb";
export async function GET(request: Request) {
  const client = new MongoClient(process.env.MONGODB_URI!);
  await client.connect();
  const items = await client.db("shop").collection("items").find({ route: ${i} }).toArray();
  return Response.json(items);
}
`
        : `import clientPromise from "../../../lib/mongodb";
import { total${i % utils} } from "../../../lib/util/u${i % utils}";
export async function GET(request: Request) {
  const client = await clientPromise;
  const items = await client.db("shop").collection("items").find({ route: ${i} }).toArray();
  return Response.json({ items, total: total${i % utils}(items as never) });
}
`,
    );
  }
  return count;
}

export const doctor: Part = {
  name: "doctor",
  async run({ say }) {
    if (!existsSync(CLI)) return [unavailable("doctor 2,000-file app", "doctor not available")];
    const dir = mkdtempSync(path.join(tmpdir(), "atlas-responder-bench-app-"));
    try {
      const written = generateApp(dir);
      const times: number[] = [];
      let files = 0;
      let findings = 0;
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
          execFile(process.execPath, [CLI, dir, "--json"], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
            resolve({ stdout, code: error ? ((error as { code?: number }).code ?? null) : 0 }),
          );
        });
        times.push(performance.now() - started);
        if (code !== 0 && code !== 1) throw new Error(`doctor exited ${code}`);
        const report = JSON.parse(stdout) as { files: number; findings: unknown[] };
        files = report.files;
        findings = report.findings.length;
      }
      say(
        `doctor: ${written} files written, ${files} read, ${findings} findings; ${times.map((t) => t.toFixed(0)).join(" ")} ms`,
      );
      return [
        row({
          name: `doctor ${files}-file app (median of ${RUNS})`,
          value: median(times),
          unit: "ms",
          goal: { max: 10_000 },
        }),
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
