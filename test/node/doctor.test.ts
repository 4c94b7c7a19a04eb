/**
 * `npm run doctor`: each fixture app gives exactly its expected findings (rule, file, line, column),
 * the `--json` shape, the human report, exit codes 0/1/2, and a file that does not parse.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { doctor } from "../../src/doctor/cli.ts";
import { entryExportNames } from "../../src/doctor/roles.ts";
import { RULES } from "../../src/doctor/rules.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/doctor/", import.meta.url));
const CLI = fileURLToPath(new URL("../../src/doctor/cli.ts", import.meta.url));
const fixture = (name: string) => path.join(FIXTURES, name);

interface JsonFinding {
  rule: keyof typeof RULES;
  severity: string;
  file: string;
  line: number;
  column: number;
  message: string;
  fix: string;
}

function run(argv: string[], colour = false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = doctor(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, colour);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function findings(dir: string): { code: number; doc: { findings: JsonFinding[]; files: number } } {
  const r = run([dir, "--json"]);
  expect(r.err).toBe("");
  return { code: r.code, doc: JSON.parse(r.out) };
}

const EXPECTED: Record<string, { files: number; findings: Array<[string, string, number, number]> }> = {
  "next-app-router": {
    files: 7,
    findings: [
      ["client-per-call", "app/api/users/route.ts", 5, 18],
      ["client-per-call", "auth.ts", 4, 45],
      ["client-per-call", "lib/connect.ts", 6, 24],
    ],
  },
  "next-pages-router": {
    files: 4,
    findings: [
      ["duplicate-client-modules", "lib/db.js", 7, 14],
      ["serverless-pool-options", "lib/db.js", 7, 14],
      ["client-per-call", "pages/api/posts.js", 4, 18],
    ],
  },
  express: {
    files: 3,
    findings: [
      ["client-per-call", "controllers/items.js", 4, 18],
      ["client-per-call", "server.js", 9, 24],
    ],
  },
  "vercel-function": {
    files: 3,
    findings: [
      ["client-per-call", "api/health.ts", 4, 18],
      ["duplicate-client-modules", "lib/mongo.ts", 3, 16],
      ["serverless-pool-options", "lib/mongo.ts", 3, 16],
      ["vercel-attach-database-pool", "lib/mongo.ts", 3, 16],
    ],
  },
  "mongoose-app": {
    files: 3,
    findings: [
      ["mongoose-connect-per-call", "netlify/functions/products.mjs", 5, 9],
      ["mongoose-connect-per-call", "netlify/functions/report.mjs", 4, 16],
    ],
  },
  "session-store": { files: 2, findings: [["library-opens-own-pool", "src/app.ts", 12, 32]] },
  "commonjs-app": {
    files: 4,
    findings: [
      ["client-per-call", "handlers/list.js", 5, 3],
      ["client-per-call", "lambda.js", 4, 18],
      ["client-per-call", "lib/legacy-db.js", 4, 10],
    ],
  },
  "seed-three-files": {
    files: 6,
    findings: [
      ["duplicate-client-modules", "lib/db.ts", 3, 16],
      ["serverless-pool-options", "lib/db.ts", 3, 16],
      ["vercel-attach-database-pool", "lib/db.ts", 3, 16],
      ["duplicate-client-modules", "lib/mongo.ts", 3, 16],
      ["serverless-pool-options", "lib/mongo.ts", 3, 16],
      ["vercel-attach-database-pool", "lib/mongo.ts", 3, 16],
      ["duplicate-client-modules", "utils/database.ts", 7, 24],
      ["serverless-pool-options", "utils/database.ts", 7, 24],
      ["vercel-attach-database-pool", "utils/database.ts", 7, 24],
    ],
  },
};

describe("doctor findings", () => {
  it.each(Object.entries(EXPECTED))(
    "%s gives exactly its expected findings and exits 1",
    (name, expected) => {
      const { code, doc } = findings(fixture(name));
      expect(doc.files).toBe(expected.files);
      expect(doc.findings.map((f) => [f.rule, f.file, f.line, f.column])).toEqual(expected.findings);
      for (const f of doc.findings) expect(f.severity).toBe(RULES[f.rule]);
      expect(code).toBe(1);
    },
  );

  it.each(["clean-app", "good-vercel-mongodb", "good-mongoose-cached"])(
    "%s reports clean and exits 0",
    (name) => {
      const { code, doc } = findings(fixture(name));
      expect(doc.findings).toEqual([]);
      expect(doc.files).toBeGreaterThan(1);
      expect(code).toBe(0);
    },
  );

  it("prints DESIGN's JSON shape: findings with exactly the seven fields, and the file count", () => {
    const { doc } = findings(fixture("next-app-router"));
    expect(Object.keys(doc)).toEqual(["findings", "files"]);
    for (const f of doc.findings)
      expect(Object.keys(f)).toEqual(["rule", "severity", "file", "line", "column", "message", "fix"]);
  });

  it("follows per-call code across files and says which entry point reaches it", () => {
    const { doc } = findings(fixture("next-app-router"));
    const connect = doc.findings.find((f) => f.file === "lib/connect.ts")!;
    expect(connect.message).toContain(
      "MongoClient.connect() runs on every call (reached from app/api/orders/route.ts)",
    );
    const cjs = findings(fixture("commonjs-app")).doc.findings;
    expect(cjs.find((f) => f.file === "lib/legacy-db.js")!.message).toContain("(reached from index.js)");
  });

  it("names every module that creates its own client, and the missing options with values for the fix", () => {
    const { doc } = findings(fixture("seed-three-files"));
    const duplicates = doc.findings.filter((f) => f.rule === "duplicate-client-modules");
    for (const d of duplicates)
      expect(d.message).toBe(
        "3 modules create their own client, each with its own pool: lib/db.ts, lib/mongo.ts, utils/database.ts.",
      );
    const options = doc.findings.find((f) => f.rule === "serverless-pool-options")!;
    expect(options.message).toMatch(/^On Next\.js, Vercel, this client sets no maxIdleTimeMS, appName: /);
    expect(options.fix).toBe('Add maxIdleTimeMS: 5000, appName: "storefront" to the client\'s options.');
    expect(doc.findings.find((f) => f.rule === "vercel-attach-database-pool")!.fix).toContain(
      'attachDatabasePool(client) from "@vercel/functions"',
    );
  });

  it("points a session store given a URL at the app's client", () => {
    const [store] = findings(fixture("session-store")).doc.findings;
    expect(store!.message).toContain("connect-mongo opens a second pool");
    expect(store!.fix).toBe(
      "Pass the app's client instead of the URL: MongoStore.create({ clientPromise: connectToDatabase() }).",
    );
  });
});

describe("doctor on small apps", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const app = (files: Record<string, string>) => {
    const dir = mkdtempSync(path.join(tmpdir(), "doctor-app-"));
    dirs.push(dir);
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
    return dir;
  };
  const rules = (dir: string) =>
    findings(dir).doc.findings.map((f) => `${f.rule} ${f.file}:${f.line}:${f.column}`);
  const handler = (body: string) =>
    `import { MongoClient } from "mongodb";\nlet client;\nexport default async function handler(req, res) {\n${body}\n}\n`;

  it("a module-level cache assigned behind a check is not a leak; the same assignment without a check is", () => {
    expect(
      rules(app({ "pages/api/a.js": handler("  client ??= new MongoClient(process.env.URL);") })),
    ).toEqual([]);
    expect(
      rules(app({ "pages/api/a.js": handler("  if (!client) client = new MongoClient(process.env.URL);") })),
    ).toEqual([]);
    expect(rules(app({ "pages/api/a.js": handler("  client = new MongoClient(process.env.URL);") }))).toEqual(
      ["client-per-call pages/api/a.js:4:12"],
    );
  });

  it("a client closed in a finally, or in .finally(), is not a leak; closed outside one, it is", () => {
    const inFinally =
      "  const c = new MongoClient(process.env.URL);\n  try { await c.db().command({ ping: 1 }); } finally { await c.close(); }";
    const promiseFinally =
      "  const c = new MongoClient(process.env.URL);\n  return c.db().command({ ping: 1 }).finally(() => c.close());";
    const after =
      "  const c = new MongoClient(process.env.URL);\n  await c.db().command({ ping: 1 });\n  await c.close();";
    expect(rules(app({ "pages/api/a.js": handler(inFinally) }))).toEqual([]);
    expect(rules(app({ "pages/api/a.js": handler(promiseFinally) }))).toEqual([]);
    expect(rules(app({ "pages/api/a.js": handler(after) }))).toEqual(["client-per-call pages/api/a.js:4:13"]);
  });

  it("a script that closes its client is not a second pool; a server closing it on SIGTERM still is", () => {
    const client =
      'import { MongoClient } from "mongodb";\nexport const client = new MongoClient("mongodb://h");\n';
    const script = `${client}async function main() {\n  await client.db().command({ ping: 1 });\n  await client.close();\n}\nmain();\n`;
    const server = `${client}process.on("SIGTERM", () => client.close());\n`;
    expect(rules(app({ "lib/a.js": client, "scripts/b.js": script }))).toEqual([]);
    expect(rules(app({ "lib/a.js": client, "server/b.js": server }))).toEqual([
      "duplicate-client-modules lib/a.js:2:23",
      "duplicate-client-modules server/b.js:2:23",
    ]);
  });

  it("NestJS handler methods run per call; decorators and <T> casts parse in .ts files", () => {
    const controller = `import { Controller, Get } from "@nestjs/common";
import { MongoClient } from "mongodb";

@Controller("users")
export class UsersController {
  @Get()
  async list() {
    const empty = <unknown[]>[];
    return new MongoClient("mongodb://h").db().collection("users").find().toArray() ?? empty;
  }

  helper() {
    return new MongoClient("mongodb://h");
  }
}
`;
    expect(rules(app({ "src/users.controller.ts": controller }))).toEqual([
      "client-per-call src/users.controller.ts:9:12",
    ]);
  });

  it("code no entry point reaches is not per call, and skipped folders are not read", () => {
    const dir = app({
      "lib/unused.js":
        'import { MongoClient } from "mongodb";\nexport function f() { return new MongoClient("x"); }\n',
      "node_modules/pkg/index.js":
        'export default function handler() { return new (require("mongodb").MongoClient)("x"); }\n',
      "dist/api/x.js": "export default function handler( {\n",
    });
    expect(findings(dir).doc).toEqual({ findings: [], files: 1 });
  });

  it("re-exports, namespace imports and server actions are followed", () => {
    const dir = app({
      "app/api/x/route.ts": 'import * as data from "../../../lib";\nexport const GET = () => data.load();\n',
      "lib/index.ts": 'export { load } from "./load";\n',
      "lib/load.ts":
        'import { MongoClient } from "mongodb";\nexport async function load() {\n  return (await MongoClient.connect("mongodb://h")).db();\n}\n',
      "app/act.ts":
        'import { MongoClient } from "mongodb";\nexport async function save() {\n  "use server";\n  return new MongoClient("mongodb://h").db();\n}\n',
    });
    expect(rules(dir)).toEqual(["client-per-call app/act.ts:4:10", "client-per-call lib/load.ts:3:17"]);
  });
});

describe("which exports run per call, from the file's place in the app", () => {
  it.each([
    ["app/api/x/route.ts", "GET", true],
    ["src/app/api/x/route.ts", "POST", true],
    ["lib/app/route.ts", "GET", false],
    ["app/shop/page.tsx", "default", true],
    ["pages/api/a.js", "default", true],
    ["pages/index.jsx", "getServerSideProps", true],
    ["pages/index.jsx", "default", false],
    ["middleware.ts", "middleware", true],
    ["lib/middleware.ts", "middleware", false],
    ["api/stats.ts", "default", true],
    ["netlify/functions/x.mjs", "default", true],
    ["src/routes/items/+server.ts", "POST", true],
    ["src/routes/+page.server.ts", "load", true],
    ["app/routes/_index.tsx", "loader", true],
    ["server/api/hello.ts", "default", true],
    ["lib/anything.js", "handler", true],
    ["lib/anything.js", "default", false],
  ])("%s exports %s per call: %s", (file, name, expected) => {
    expect(entryExportNames(file).includes(name)).toBe(expected);
  });
});

describe("doctor's human report", () => {
  it("groups findings by file, quotes the source line with a caret under the column, and gives the fix", () => {
    const { out, code } = run([fixture("vercel-function")]);
    expect(code).toBe(1);
    const lines = out.split("\n");
    expect(lines.slice(0, 5)).toEqual([
      "api/health.ts",
      "  4:18  error  client-per-call  new MongoClient() runs on every call with no module-level or globalThis cache and no close in a finally: each call opens a new pool that is never closed.",
      "     4 |   const client = new MongoClient(process.env.MONGODB_URI!);",
      "       |                  ^",
      "    fix: Create the client once per process (module scope or a globalThis cache) and import it here: const client = await connectToDatabase().",
    ]);
    expect(lines.filter((l) => /^\S/.test(l))).toEqual([
      "api/health.ts",
      "lib/mongo.ts",
      "4 findings (1 error, 3 warnings, 0 info) in 3 files.",
    ]);
    expect(out).not.toContain("\x1b[");
  });

  it("colours severities only when asked to (a TTY without NO_COLOR)", () => {
    expect(run([fixture("vercel-function")], true).out).toContain("\x1b[31merror\x1b[0m");
  });

  it("says when an app is clean", () => {
    expect(run([fixture("clean-app")]).out).toBe("No connection problems found in 3 files.");
  });

  it("reports a file that does not parse as info, keeps checking the others, and exits 0", () => {
    const { code, doc } = findings(fixture("unparsable"));
    expect(doc).toEqual({
      files: 2,
      findings: [
        {
          rule: "parse-error",
          severity: "info",
          file: "broken.js",
          line: 2,
          column: 3,
          message: "Could not parse this file (Unexpected keyword 'return'); it was not checked.",
          fix: "Check that the file is valid JavaScript or TypeScript.",
        },
      ],
    });
    expect(code).toBe(0);
    expect(
      run([fixture("unparsable")])
        .out.split("\n")
        .slice(0, 4),
    ).toEqual([
      "broken.js",
      "  2:3  info  parse-error  Could not parse this file (Unexpected keyword 'return'); it was not checked.",
      "     2 |   return 1;",
      "       |   ^",
    ]);
  });
});

describe("doctor's usage", () => {
  it("--help prints the usage and exits 0", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: npm run doctor -- PATH \[--json\] \[--patch\]/);
  });

  it.each([
    [[], "PATH is missing"],
    [["/nonexistent/doctor-app"], "/nonexistent/doctor-app does not exist"],
    [[CLI], `${CLI} is not a directory`],
    [["a", "b"], "give one PATH"],
    [[".", "--fix"], "Unknown option '--fix'"],
    [[".", "--json", "--patch"], "--json and --patch print different documents: choose one"],
  ])("%j exits 2 with the usage", (argv, message) => {
    const r = run(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain("usage: npm run doctor");
    expect(r.out).toBe("");
  });

  it("as a process: exit 1 on findings with no colour on a pipe, exit 2 without a stack trace", () => {
    const env = { PATH: process.env.PATH ?? "" } as unknown as NodeJS.ProcessEnv;
    const leaky = spawnSync(process.execPath, [CLI, fixture("express")], { encoding: "utf8", env });
    expect(leaky.status).toBe(1);
    expect(leaky.stdout).toContain("server.js\n  9:24  error  client-per-call");
    expect(leaky.stdout).not.toContain("\x1b[");
    expect(leaky.stderr).toBe("");
    const missing = spawnSync(process.execPath, [CLI, "/nonexistent/app"], { encoding: "utf8", env });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("/nonexistent/app does not exist");
    expect(missing.stderr).not.toMatch(/^\s+at .+[:(]/m);
  });
});
