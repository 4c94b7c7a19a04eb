/**
 * The rules and the findings they produce. Each rule has a stable id (documented in RULES.md); a
 * finding carries the rule, a severity, where (file relative to the app, 1-based line and column),
 * what is wrong and the concrete change that fixes it. The sites are returned too: the patch writer
 * rewrites exactly the sites the findings point at.
 */
import type { App, Platform } from "./app.ts";
import { isFunction, type Node } from "./ast.ts";
import { analyseSite, POOL_OPTIONS, type SiteAnalysis } from "./client-sites.ts";
import type { LibrarySite, ModuleFacts } from "./module-facts.ts";
import { computeReach } from "./reach.ts";
import { isTestFile } from "./roles.ts";

export type Severity = "error" | "warning" | "info";

export interface Finding {
  rule: RuleId;
  severity: Severity;
  file: string;
  line: number;
  column: number;
  message: string;
  fix: string;
}

export const RULES = {
  "client-per-call": "error",
  "mongoose-connect-per-call": "error",
  "duplicate-client-modules": "warning",
  "library-opens-own-pool": "warning",
  "serverless-pool-options": "warning",
  "vercel-attach-database-pool": "warning",
  "parse-error": "info",
} as const satisfies Record<string, Severity>;
export type RuleId = keyof typeof RULES;

/** What the patch needs: every creation site by what it is, and the libraries given a URL. */
export interface Diagnosis {
  findings: Finding[];
  leaks: SiteAnalysis[];
  longLived: SiteAnalysis[];
  libraries: Array<{ module: ModuleFacts; site: LibrarySite }>;
  /** Suggested idle timeout for the platform, in ms. */
  idleMs: number;
}

/** The idle timeout to suggest: Vercel advises ~5 s, other serverless 10 s, a long-running server 60 s. */
export function idleTimeout(platforms: ReadonlySet<Platform>): number {
  return platforms.has("Vercel") ? 5_000 : platforms.size > 0 ? 10_000 : 60_000;
}

const CREATES: Record<SiteAnalysis["site"]["kind"], string> = {
  "new-client": "new MongoClient()",
  "client-connect": "MongoClient.connect()",
  "mongoose-connect": "mongoose.connect()",
  "mongoose-connection": "mongoose.createConnection()",
};

/** Runs every rule over the app. */
export function diagnose(app: App): Diagnosis {
  const findings: Finding[] = [];
  const at = (
    rule: RuleId,
    module: ModuleFacts | string,
    node: Node | null,
    message: string,
    fix: string,
  ) => {
    const file = typeof module === "string" ? module : module.file;
    findings.push({
      rule,
      severity: RULES[rule],
      file,
      line: node?.loc.start.line ?? 1,
      column: (node?.loc.start.column ?? 0) + 1,
      message,
      fix,
    });
  };
  for (const u of app.unparsed)
    findings.push({
      rule: "parse-error",
      severity: "info",
      file: u.file,
      line: u.line,
      column: u.column,
      message: `Could not parse this file (${u.message}); it was not checked.`,
      fix: "Check that the file is valid JavaScript or TypeScript.",
    });

  const reach = computeReach(app);
  const idleMs = idleTimeout(app.platforms);
  const leaks: SiteAnalysis[] = [];
  const longLived: SiteAnalysis[] = [];
  const libraries: Diagnosis["libraries"] = [];
  for (const module of app.modules.values()) {
    if (isTestFile(module.file)) continue;
    for (const site of module.clients) {
      const a = analyseSite(module, site, reach);
      const what = CREATES[site.kind];
      const mongoose = site.kind.startsWith("mongoose");
      const where = a.perCall && a.perCall !== module.file ? ` (reached from ${a.perCall})` : "";
      if (site.library) {
        if (a.perCall || site.ancestors.some(isFunction)) {
          leaks.push(a);
          at(
            "client-per-call",
            module,
            site.node,
            `${site.library} is given a function that runs ${what} each time it is called: every call opens a new pool.`,
            "Pass the app's one cached client promise instead: MongoDBAdapter(connectToDatabase()).",
          );
        } else {
          longLived.push(a);
          at(
            "library-opens-own-pool",
            module,
            site.node,
            `${site.library} is given its own ${what}, a second pool beside the app's client.`,
            "Pass the app's one cached client promise: MongoDBAdapter(connectToDatabase()).",
          );
        }
        continue;
      }
      if (a.perCall && !a.cached && !a.closedInFinally) {
        leaks.push(a);
        at(
          mongoose ? "mongoose-connect-per-call" : "client-per-call",
          module,
          site.node,
          `${what} runs on every call${where} with no module-level or globalThis cache and no close in a finally: each call opens a new pool that is never closed.`,
          mongoose
            ? "Connect once: keep the connection promise on globalThis (cached.conn / cached.promise) and await that here."
            : "Create the client once per process (module scope or a globalThis cache) and import it here: const client = await connectToDatabase().",
        );
      } else if (a.perCall && a.closedInFinally && !a.cached) {
        // Opened and closed per call: slow, but it does not leak.
      } else if (!a.perCall && a.closed) {
        // A one-off script that closes its client.
      } else longLived.push(a);
    }
    for (const site of module.libraries) {
      libraries.push({ module, site });
      at(
        "library-opens-own-pool",
        module,
        site.property,
        LIBRARY_MESSAGE[site.library],
        LIBRARY_FIX[site.library],
      );
    }
  }

  const owners = [
    ...new Set([...longLived, ...leaks].filter((a) => !a.site.library).map((a) => a.module.file)),
  ].sort();
  if (owners.length > 1) {
    for (const file of owners) {
      const first = longLived.find((a) => a.module.file === file && !a.site.library);
      if (!first) continue;
      at(
        "duplicate-client-modules",
        first.module,
        first.site.node,
        `${owners.length} modules create their own client, each with its own pool: ${owners.join(", ")}.`,
        "Keep one cached client module (connectToDatabase()) and import it everywhere; remove this client.",
      );
    }
  }

  if (app.platforms.size > 0) {
    const on = [...app.platforms].join(", ");
    for (const a of longLived) {
      const missing = a.options ? POOL_OPTIONS.filter((o) => !a.options!.has(o)) : [];
      if (missing.length === 0) continue;
      const values = missing.map((o) =>
        o === "maxPoolSize"
          ? "maxPoolSize: 5"
          : o === "maxIdleTimeMS"
            ? `maxIdleTimeMS: ${idleMs}`
            : `appName: "${app.packageName ?? "my-app"}"`,
      );
      at(
        "serverless-pool-options",
        a.module,
        a.site.node,
        `On ${on}, this client sets no ${missing.join(", ")}: ${missingWhy(missing)}.`,
        `Add ${values.join(", ")} to the client's options.`,
      );
    }
    if (app.platforms.has("Vercel")) {
      const seen = new Set<string>();
      for (const a of longLived) {
        if (a.module.attachesPool || seen.has(a.module.file)) continue;
        seen.add(a.module.file);
        at(
          "vercel-attach-database-pool",
          a.module,
          a.site.node,
          "On Vercel, this client is never passed to attachDatabasePool: a suspended function keeps its idle sockets open.",
          a.site.kind.startsWith("mongoose")
            ? 'Call attachDatabasePool(mongoose.connection.getClient()) from "@vercel/functions" once connected.'
            : 'Call attachDatabasePool(client) from "@vercel/functions" right after creating the client.',
        );
      }
    }
  }
  findings.sort((x, y) =>
    x.file < y.file ? -1 : x.file > y.file ? 1 : x.line - y.line || x.column - y.column,
  );
  return { findings, leaks, longLived, libraries, idleMs };
}

function missingWhy(missing: readonly string[]): string {
  const why: Record<string, string> = {
    maxPoolSize: "each instance may open up to 100 connections",
    maxIdleTimeMS: "idle sockets are never closed",
    appName: "Atlas cannot tell which app holds the connections",
  };
  return missing.map((m) => why[m]).join("; ");
}

const LIBRARY_MESSAGE: Record<LibrarySite["library"], string> = {
  "connect-mongo":
    "The session store is given a connection string, so connect-mongo opens a second pool beside the app's client.",
  "connect-mongodb-session":
    "The session store is given a connection string, so connect-mongodb-session opens a second pool beside the app's client.",
  agenda: "Agenda is given a connection string, so it opens a second pool beside the app's client.",
};
const LIBRARY_FIX: Record<LibrarySite["library"], string> = {
  "connect-mongo":
    "Pass the app's client instead of the URL: MongoStore.create({ clientPromise: connectToDatabase() }).",
  "connect-mongodb-session":
    "Use a store that accepts the app's client (connect-mongo's MongoStore.create({ clientPromise })), or count its pool in maxPoolSize.",
  agenda:
    "Pass the app's database instead of the URL: new Agenda({ mongo: (await connectToDatabase()).db() }).",
};
