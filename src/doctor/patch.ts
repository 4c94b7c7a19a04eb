/**
 * `--patch`: a unified diff (`git apply` accepts it) that adds one cached-client module and points
 * every client the findings name at it: each leaking call site, each duplicate connection module,
 * each library handed a URL. Edits are made on the source text at the parsed nodes' offsets, so the
 * rest of every file stays byte for byte as it was. It only prints; it never writes into the app.
 */
import path from "node:path";
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import type { App } from "./app.ts";
import { keyName, memberPath, type Node, patternNames, requireSource, unwrap, walk } from "./ast.ts";
import { type CachedModuleSpec, cachedModuleSource } from "./cached-module.ts";
import type { SiteAnalysis } from "./client-sites.ts";
import type { ModuleFacts } from "./module-facts.ts";
import type { Diagnosis } from "./rules.ts";

interface Edit {
  start: number;
  end: number;
  text: string;
}

type Export = "get" | "connect" | "mongoose" | "connection";

const DRIVERS = new Set(["mongodb", "mongoose"]);

/** The diff, or "" when nothing needs to change. */
export function buildPatch(app: App, diagnosis: Diagnosis): string {
  const fixable = diagnosis.findings.some((f) => f.severity !== "info");
  if (!fixable) return "";
  const sites = [...diagnosis.leaks, ...diagnosis.longLived].filter(
    (a) => !(a.site.kind === "client-connect" && isCallback(a.site.node)),
  );
  const stores = diagnosis.libraries.filter((l) => l.site.library !== "connect-mongodb-session");
  if (sites.length === 0 && stores.length === 0) return "";

  const usesDriver =
    sites.some((a) => !a.site.kind.startsWith("mongoose")) || stores.some((l) => l.site.library === "agenda");
  const usesMongoose = sites.some((a) => a.site.kind === "mongoose-connect");
  const usesConnection = sites.some((a) => a.site.kind === "mongoose-connection");
  const driver = usesDriver || (!usesMongoose && !usesConnection);
  const mongooseStores = !driver;
  const names: Record<Export, string> = {
    get: "getMongoClient",
    connect: "connectToDatabase",
    mongoose: driver ? "connectMongoose" : "connectToDatabase",
    connection: "getMongooseConnection",
  };
  const style = moduleStyle(
    app,
    sites.map((a) => a.module),
  );
  const target = newModulePath(app, style.typescript, style.esm);
  const spec: CachedModuleSpec = {
    ...style,
    driver: driver ? { get: names.get, connect: names.connect } : null,
    mongoose:
      usesMongoose || usesConnection || (mongooseStores && stores.length > 0)
        ? {
            connect: usesMongoose || mongooseStores ? names.mongoose : null,
            connection: usesConnection ? names.connection : null,
          }
        : null,
    vercel: app.platforms.has("Vercel"),
    appName: app.packageName ?? path.basename(path.resolve(app.root)),
    idleMs: diagnosis.idleMs,
    envName: mostCommon(sites.map((a) => a.envName)) ?? "MONGODB_URI",
  };

  const edits = new Map<ModuleFacts, { edits: Edit[]; uses: Set<Export> }>();
  const editsOf = (m: ModuleFacts) => {
    const found = edits.get(m);
    if (found) return found;
    const e = { edits: [] as Edit[], uses: new Set<Export>() };
    edits.set(m, e);
    return e;
  };
  for (const a of sites) {
    const e = editsOf(a.module);
    const use: Export =
      a.site.kind === "new-client"
        ? "get"
        : a.site.kind === "client-connect"
          ? "connect"
          : a.site.kind === "mongoose-connect"
            ? "mongoose"
            : "connection";
    e.uses.add(use);
    e.edits.push({ start: a.site.node.start, end: a.site.node.end, text: `\0${use}()` });
    if (diagnosis.leaks.includes(a)) e.edits.push(...removeCloses(a));
  }
  for (const { module, site } of stores) {
    const e = editsOf(module);
    if (site.library === "agenda") {
      const options = (unwrap(site.node.arguments[0])?.properties ?? []) as Node[];
      const db = options.find((p) => keyName(p.key) === "db")!;
      e.uses.add("get");
      e.edits.push({ start: db.start, end: db.end, text: "mongo: \0get().db()" });
    } else if (driver) {
      e.uses.add("connect");
      e.edits.push({
        start: site.property.start,
        end: site.property.end,
        text: "clientPromise: \0connect()",
      });
    } else {
      e.uses.add("mongoose");
      e.edits.push({
        start: site.property.start,
        end: site.property.end,
        text: "clientPromise: \0mongoose().then((connected) => connected.connection.getClient())",
      });
    }
  }

  const parts = [
    createTwoFilesPatch("/dev/null", `b/${target}`, "", cachedModuleSource(spec), undefined, undefined, {
      headerOptions: FILE_HEADERS_ONLY,
    }),
  ];
  for (const [m, e] of [...edits].sort(([a], [b]) => (a.file < b.file ? -1 : 1))) {
    const local = localNames(m, e.uses, names);
    const apply = (list: Edit[]) =>
      applyEdits(m.code, list).replace(/\0(connection|connect|get|mongoose)/g, (_, k: Export) => local[k]);
    const insert = importEdit(m, target, [...e.uses], names, local, style, app);
    let text = apply([...e.edits, insert]);
    // An import of the driver the file no longer uses goes; the new import takes its place.
    const removals: Edit[] = [];
    let placed = insert;
    for (const statement of unusedDriverImports(m, text)) {
      if (insert.start === statement.end)
        placed = { start: statement.start, end: statement.end, text: insert.text.replace(/^\n/, "") };
      else removals.push(wholeLines(m.code, statement.start, statement.end));
    }
    if (placed !== insert || removals.length > 0) text = apply([...e.edits, ...removals, placed]);
    parts.push(
      createTwoFilesPatch(`a/${m.file}`, `b/${m.file}`, m.code, text, undefined, undefined, {
        headerOptions: FILE_HEADERS_ONLY,
      }),
    );
  }
  return parts.join("");
}

function applyEdits(code: string, edits: Edit[]): string {
  let text = code;
  let floor = Number.POSITIVE_INFINITY;
  for (const edit of [...edits].sort((x, y) => y.start - x.start || y.end - x.end)) {
    // Edits never overlap in practice; if two did, the second is dropped rather than garbled.
    if (edit.end > floor) continue;
    text = text.slice(0, edit.start) + edit.text + text.slice(edit.end);
    floor = edit.start;
  }
  return text;
}

/** Top-level imports or requires of mongodb/mongoose whose names the rewritten `text` no longer uses. */
function unusedDriverImports(m: ModuleFacts, text: string): Node[] {
  const unused: Node[] = [];
  for (const s of m.program.body as Node[]) {
    let names: string[] = [];
    if (s.type === "ImportDeclaration" && s.importKind !== "type" && DRIVERS.has(s.source.value))
      names = (s.specifiers as Node[]).map((spec) => spec.local.name);
    else if (s.type === "VariableDeclaration" && s.declarations.length === 1) {
      const init = unwrap(s.declarations[0].init);
      const source =
        requireSource(init) ?? (init?.type === "MemberExpression" ? requireSource(init.object) : null);
      if (source && DRIVERS.has(source)) names = patternNames(s.declarations[0].id);
    }
    if (names.length === 0) continue;
    const own = m.code.slice(s.start, s.end);
    const uses = (name: string, within: string) =>
      within.match(new RegExp(`(?<![\\w$])${name.replace(/\$/g, "\\$")}(?![\\w$])`, "g"))?.length ?? 0;
    if (names.every((n) => uses(n, text) === uses(n, own))) unused.push(s);
  }
  return unused;
}

/** The range of [start, end) widened to its whole lines when nothing else shares them. */
function wholeLines(code: string, start: number, end: number): Edit {
  const lineStart = code.lastIndexOf("\n", start - 1) + 1;
  const lineEnd = code.indexOf("\n", end);
  const stop = lineEnd < 0 ? code.length : lineEnd;
  if (code.slice(lineStart, start).trim() === "" && code.slice(end, stop).trim() === "")
    return { start: lineStart, end: lineEnd < 0 ? code.length : lineEnd + 1, text: "" };
  return { start, end, text: "" };
}

function isCallback(node: Node): boolean {
  const last = unwrap((node.arguments as Node[]).at(-1));
  return last?.type === "ArrowFunctionExpression" || last?.type === "FunctionExpression";
}

/** A leaking call site's own `await client.close()` would now close the shared client: drop it. */
function removeCloses(a: SiteAnalysis): Edit[] {
  const edits: Edit[] = [];
  const code = a.module.code;
  walk(a.scope, (node) => {
    if (node.type !== "ExpressionStatement") return true;
    let e = unwrap(node.expression);
    if (e?.type === "AwaitExpression") e = unwrap(e.argument);
    if (e?.type !== "CallExpression") return true;
    const p = memberPath(unwrap(e.callee));
    const closes =
      p?.length === 2 &&
      (p[1] === "close" || p[1] === "disconnect") &&
      (a.holders.has(p[0]!) || (p[0] === "mongoose" && a.site.kind.startsWith("mongoose")));
    if (!closes) return true;
    let start = node.start;
    let end = node.end;
    const lineStart = code.lastIndexOf("\n", start - 1) + 1;
    const lineEnd = code.indexOf("\n", end);
    if (
      code.slice(lineStart, start).trim() === "" &&
      code.slice(end, lineEnd < 0 ? undefined : lineEnd).trim() === ""
    ) {
      start = lineStart;
      end = lineEnd < 0 ? code.length : lineEnd + 1;
    }
    edits.push({ start, end, text: "" });
    return false;
  });
  return edits;
}

/** The name each used export gets in `m`: its own name, or `shared…` when the file already uses it. */
function localNames(
  m: ModuleFacts,
  uses: Set<Export>,
  names: Record<Export, string>,
): Record<Export, string> {
  const local = { ...names };
  for (const k of uses) {
    if (!m.identifiers.has(names[k])) continue;
    let alias = `shared${names[k][0]!.toUpperCase()}${names[k].slice(1)}`;
    for (let i = 2; m.identifiers.has(alias); i++) alias = `shared${names[k]}${i}`;
    local[k] = alias;
  }
  return local;
}

function importEdit(
  m: ModuleFacts,
  target: string,
  uses: Export[],
  names: Record<Export, string>,
  local: Record<Export, string>,
  style: { typescript: boolean; esm: boolean },
  app: App,
): Edit {
  let specifier = path.posix.relative(path.posix.dirname(m.file), target);
  if (!specifier.startsWith(".")) specifier = `./${specifier}`;
  const ext = path.posix.extname(target);
  const keep = ext === ".mjs" ? ".mjs" : specifierExtension(app, m, style);
  specifier = keep === null ? specifier.slice(0, -ext.length) : specifier.slice(0, -ext.length) + keep;
  const sorted = uses.sort();
  const esm = m.esm;
  const list = sorted
    .map((k) =>
      local[k] === names[k] ? names[k] : esm ? `${names[k]} as ${local[k]}` : `${names[k]}: ${local[k]}`,
    )
    .join(", ");
  const statement = esm
    ? `import { ${list} } from "${specifier}";`
    : `const { ${list} } = require("${specifier}");`;
  // After the last top-level import or require, else after the directives, else at the top.
  let at = -1;
  for (const s of m.program.body as Node[]) {
    const isImport =
      s.type === "ImportDeclaration" ||
      (s.type === "VariableDeclaration" &&
        (s.declarations as Node[]).some((d) => {
          const init = unwrap(d.init);
          return (
            init?.type === "CallExpression" &&
            init.callee.type === "Identifier" &&
            init.callee.name === "require"
          );
        }));
    if (isImport) at = s.end;
    else if (at >= 0) break;
  }
  if (at < 0) {
    const directives = m.program.directives as Node[];
    if (directives.length > 0) at = directives.at(-1)!.end;
  }
  if (at < 0) {
    const shebang = m.code.startsWith("#!") ? m.code.indexOf("\n") + 1 : 0;
    return { start: shebang, end: shebang, text: `${statement}\n` };
  }
  return { start: at, end: at, text: `\n${statement}` };
}

const extensionStyles = new WeakMap<App, { all: number; withExt: number; ts: number }>();

/** How the app writes relative specifiers: with `.js`, with `.ts`, or without an extension (null). */
function specifierExtension(
  app: App,
  m: ModuleFacts,
  style: { typescript: boolean; esm: boolean },
): string | null {
  let counts = extensionStyles.get(app);
  if (!counts) {
    counts = { all: 0, withExt: 0, ts: 0 };
    for (const x of app.modules.values())
      for (const s of x.relativeSpecifiers) {
        counts.all++;
        if (/\.[cm]?[jt]sx?$/.test(s)) counts.withExt++;
        if (/\.[cm]?tsx?$/.test(s)) counts.ts++;
      }
    extensionStyles.set(app, counts);
  }
  if (counts.all > 0) {
    if (counts.withExt * 2 < counts.all) return null;
    return counts.ts * 2 > counts.withExt && style.typescript ? ".ts" : ".js";
  }
  return m.esm && app.packageType === "module" && !app.platforms.has("Next.js") ? ".js" : null;
}

function moduleStyle(app: App, sites: ModuleFacts[]): { typescript: boolean; esm: boolean } {
  const files = [...app.modules.values()];
  const typescript = files.some((m) => /\.[cm]?tsx?$/.test(m.file));
  if (typescript) return { typescript, esm: true };
  const esm =
    app.packageType === "module" || (sites.length > 0 ? sites.every((m) => m.esm) : files.some((m) => m.esm));
  return { typescript, esm };
}

/** `lib/mongodb.ts` (under `src/` when the app keeps its code there), or a free variant of it. */
function newModulePath(app: App, typescript: boolean, esm: boolean): string {
  const files = [...app.modules.keys()];
  const inSrc = files.filter((f) => f.startsWith("src/")).length * 2 > files.length;
  const dir = inSrc ? "src/lib" : "lib";
  // ESM in .js needs "type": "module" unless a bundler (Next.js) reads it; otherwise .mjs.
  const ext = typescript
    ? ".ts"
    : esm && app.packageType !== "module" && !app.platforms.has("Next.js")
      ? ".mjs"
      : ".js";
  const taken = new Set(files.map((f) => f.replace(/\.[cm]?[jt]sx?$/, "")));
  for (const name of ["mongodb", "mongodb-client", "db-client", "shared-mongodb"])
    if (!taken.has(`${dir}/${name}`)) return `${dir}/${name}${ext}`;
  let i = 2;
  while (taken.has(`${dir}/mongodb-${i}`)) i++;
  return `${dir}/mongodb-${i}${ext}`;
}

function mostCommon(values: Array<string | null>): string | null {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
}
