/**
 * `npm run doctor -- PATH --patch`: for each leaky fixture app, the diff applies with a real
 * `git apply` in a temporary repository, the patched app reports clean, every file it touches
 * parses, and the TypeScript apps pass `tsc --noEmit` against their ambient declarations. The diff
 * never writes into the app it reads.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeMongo } from "../../fakes/mongo-server.ts";
import { parseSource } from "../../src/doctor/ast.ts";
import { doctor } from "../../src/doctor/cli.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/doctor/", import.meta.url));
const DRIVER = fileURLToPath(new URL("../../node_modules/mongodb", import.meta.url));
const TSC = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
const LEAKY = [
  "next-app-router",
  "next-pages-router",
  "express",
  "vercel-function",
  "mongoose-app",
  "session-store",
  "commonjs-app",
  "seed-three-files",
];
const TYPESCRIPT = ["next-app-router", "vercel-function", "session-store", "seed-three-files"];

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = doctor(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, false);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function git(cwd: string, ...args: string[]) {
  const r = spawnSync("git", ["-c", "user.email=doctor@example.com", "-c", "user.name=doctor", ...args], {
    cwd,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) visit(p);
      else out[path.relative(dir, p)] = readFileSync(p, "utf8");
    }
  };
  visit(dir);
  return out;
}

const root = mkdtempSync(path.join(tmpdir(), "doctor-patch-"));
const patches: Record<string, string> = {};
const changed: Record<string, string[]> = {};
const dirOf = (name: string) => path.join(root, name);

beforeAll(() => {
  for (const name of LEAKY) {
    const dir = dirOf(name);
    cpSync(path.join(FIXTURES, name), dir, { recursive: true });
    git(dir, "init", "-q", ".");
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "before");
    const r = run([dir, "--patch"]);
    expect(r.code).toBe(1);
    patches[name] = `${r.out}\n`;
    const file = path.join(root, `${name}.diff`);
    writeFileSync(file, patches[name]);
    git(dir, "apply", "--check", file);
    git(dir, "apply", file);
    changed[name] = git(dir, "status", "--porcelain", "--untracked-files=all")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("doctor --patch", () => {
  it.each(LEAKY)("%s: the patched app reports clean and every file it touches parses", (name) => {
    const after = run([dirOf(name), "--json"]);
    expect(JSON.parse(after.out).findings).toEqual([]);
    expect(after.code).toBe(0);
    expect(changed[name]!.length).toBeGreaterThan(1);
    for (const file of changed[name]!) {
      const parsed = parseSource(readFileSync(path.join(dirOf(name), file), "utf8"), file);
      expect(parsed, file).toMatchObject({ ok: true });
    }
  });

  it("the patched TypeScript apps pass tsc --noEmit against their ambient declarations", () => {
    for (const name of TYPESCRIPT) {
      const r = spawnSync(
        process.execPath,
        [TSC, "--noEmit", "-p", path.join(dirOf(name), "tsconfig.json")],
        {
          encoding: "utf8",
        },
      );
      expect(`${name}: ${r.stdout}${r.stderr}`).toBe(`${name}: `);
      expect(r.status).toBe(0);
    }
  });

  it("the seed's three connection files become one cached connectToDatabase() with a pool of 5", () => {
    expect(changed["seed-three-files"]!.sort()).toEqual([
      "lib/db.ts",
      "lib/mongo.ts",
      "lib/mongodb.ts",
      "utils/database.ts",
    ]);
    const module = readFileSync(path.join(dirOf("seed-three-files"), "lib/mongodb.ts"), "utf8");
    expect(module).toContain('import { attachDatabasePool } from "@vercel/functions";');
    expect(module).toContain(
      'const options = { maxPoolSize: 5, maxIdleTimeMS: 5000, appName: "storefront" };',
    );
    expect(module).toContain("const cache = globalThis as typeof globalThis & {");
    expect(module).toContain("attachDatabasePool(cache._mongoClient);");
    expect(module).toContain("export function connectToDatabase(): Promise<MongoClient> {");
    const patch = patches["seed-three-files"]!;
    expect(patch).toContain(
      [
        "--- a/lib/db.ts",
        "+++ b/lib/db.ts",
        "@@ -1,5 +1,5 @@",
        '-import { MongoClient } from "mongodb";',
        '+import { getMongoClient } from "./mongodb";',
        " ",
        "-const client = new MongoClient(process.env.MONGODB_URI!, { maxPoolSize: 10 });",
        "+const client = getMongoClient();",
      ].join("\n"),
    );
    // utils/database.ts already has a connectToDatabase of its own: the import is aliased; it still
    // names the MongoClient type, so its driver import stays.
    const database = readFileSync(path.join(dirOf("seed-three-files"), "utils/database.ts"), "utf8");
    expect(database).toContain(
      'import { connectToDatabase as sharedConnectToDatabase } from "../lib/mongodb";',
    );
    expect(database).toContain("cachedClient = await sharedConnectToDatabase();");
  });

  it("writes the module in the app's own language and module style", () => {
    const read = (name: string, file: string) => readFileSync(path.join(dirOf(name), file), "utf8");
    // CommonJS: require and module.exports.
    expect(read("commonjs-app", "lib/mongodb.js")).toContain(
      "module.exports = { getMongoClient, connectToDatabase };",
    );
    expect(read("commonjs-app", "lib/mongodb.js")).toContain('const { MongoClient } = require("mongodb");');
    expect(read("commonjs-app", "handlers/list.js")).toContain(
      'const { connectToDatabase } = require("../lib/mongodb");',
    );
    // ESM with "type": "module" and .js specifiers.
    expect(read("express", "server.js")).toContain('import { connectToDatabase } from "./lib/mongodb.js";');
    expect(read("express", "lib/mongodb.js")).toContain('appName: "inventory-api"');
    // ESM in .mjs files without "type": "module": an .mjs module, mongoose's connection cached.
    expect(read("mongoose-app", "lib/mongodb.mjs")).toContain('import mongoose from "mongoose";');
    expect(read("mongoose-app", "netlify/functions/products.mjs")).toContain("await connectToDatabase();");
    expect(read("mongoose-app", "netlify/functions/report.mjs")).toContain(
      "const conn = getMongooseConnection();",
    );
    // The session store gets the app's client; the code under src/ gets src/lib.
    expect(read("session-store", "src/app.ts")).toContain(
      "store: MongoStore.create({ clientPromise: connectToDatabase() }),",
    );
    // A per-call client's own close() would close the shared client: it is removed.
    expect(read("next-app-router", "app/api/users/route.ts")).not.toContain("client.close()");
    expect(read("next-app-router", "scripts/seed.ts")).toContain("await client.close();");
  });

  it("never writes into the app it reads, and prints nothing for a clean app", () => {
    const before = snapshot(path.join(FIXTURES, "express"));
    expect(run([path.join(FIXTURES, "express"), "--patch"]).out).toContain("+++ b/lib/mongodb.js");
    expect(snapshot(path.join(FIXTURES, "express"))).toEqual(before);
    expect(run([path.join(FIXTURES, "clean-app"), "--patch"])).toEqual({ code: 0, out: "", err: "" });
  });
});

/**
 * Runs the CommonJS app's list handler `calls` times at once; resolves once every call has settled.
 * The fake server stores no data, so each call's `find` fails after its clients connected: the
 * handler's promise chain rejects, unhandled, and that rejection is counted as the call's end.
 */
function callListHandler(app: string, uri: string, calls: number) {
  mkdirSync(path.join(app, "node_modules"), { recursive: true });
  symlinkSync(DRIVER, path.join(app, "node_modules", "mongodb"));
  const script = `const list = require(${JSON.stringify(path.join(app, "handlers/list.js"))});
let settled = 0;
const settle = () => { if (++settled === ${calls}) console.log("settled"); };
process.on("unhandledRejection", settle);
for (let i = 0; i < ${calls}; i++) list({}, { json: settle });`;
  const child = spawn(process.execPath, ["-e", script], {
    env: { PATH: process.env.PATH ?? "", MONGODB_URL: uri } as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const settled = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (c: Buffer) => {
      if (c.toString().includes("settled")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`handler exited ${code}: ${stderr}`)));
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  return { settled, stop };
}

describe("the patched CommonJS app against a MongoDB server (the real driver, the fake server)", () => {
  it("opens one named pool for many calls, where the original opened two clients per call", async () => {
    const mongo = await startFakeMongo({ tier: "M0" });
    const before = path.join(root, "commonjs-before");
    cpSync(path.join(FIXTURES, "commonjs-app"), before, { recursive: true });
    try {
      const original = callListHandler(before, mongo.uri(), 5);
      await original.settled;
      // Each call made its own MongoClient twice (list and getCollection), none of them closed.
      expect(mongo.openCount(null)).toBeGreaterThanOrEqual(10);
      await original.stop();
      await expect.poll(() => mongo.openCount()).toBe(0);

      const patched = callListHandler(dirOf("commonjs-app"), mongo.uri(), 5);
      await patched.settled;
      expect(mongo.openCount(null)).toBe(0);
      expect(mongo.openCount("legacy-api")).toBeGreaterThan(0);
      expect(mongo.openCount("legacy-api")).toBeLessThanOrEqual(6);
      await patched.stop();
    } finally {
      await mongo.close();
    }
  });
});
