/**
 * Reads an app once: every JavaScript/TypeScript source under the root (skipping dependencies and
 * build output), each parsed a single time into its facts; package.json (name, dependencies, module
 * type); tsconfig/jsconfig path aliases; and the serverless platforms its dependencies and config
 * files point to. Import specifiers resolve against the set of files read, never the disk again.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseSource } from "./ast.ts";
import { type ModuleFacts, moduleFacts } from "./module-facts.ts";

export type Platform = "Next.js" | "Vercel" | "Netlify" | "AWS Lambda";

export interface Unparsed {
  file: string;
  code: string;
  line: number;
  column: number;
  message: string;
}

export interface App {
  root: string;
  files: number;
  modules: Map<string, ModuleFacts>;
  unparsed: Unparsed[];
  packageName: string | null;
  packageType: "module" | "commonjs" | null;
  dependencies: Set<string>;
  platforms: Set<Platform>;
  aliases: Array<{ prefix: string; targets: string[] }>;
}

const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "build", ".next", ".vercel", "coverage"]);
const SOURCE = /\.(?:[cm]?[jt]s|[jt]sx)$/;
const DECLARATION = /\.d\.[cm]?ts$/;
const EXTENSIONS = [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"];

const PLATFORM_DEPENDENCIES: Record<string, Platform> = {
  next: "Next.js",
  vercel: "Vercel",
  "@vercel/functions": "Vercel",
  "@vercel/node": "Vercel",
  "@netlify/functions": "Netlify",
  "netlify-cli": "Netlify",
  "aws-lambda": "AWS Lambda",
  "@types/aws-lambda": "AWS Lambda",
  serverless: "AWS Lambda",
  "@middy/core": "AWS Lambda",
  "serverless-http": "AWS Lambda",
  "@vendia/serverless-express": "AWS Lambda",
  "@codegenie/serverless-express": "AWS Lambda",
};
const PLATFORM_FILES: Array<[RegExp, Platform]> = [
  [/^next\.config\.[cm]?[jt]s$/, "Next.js"],
  [/^(vercel\.json|\.vercel)$/, "Vercel"],
  [/^netlify\.toml$/, "Netlify"],
  [/^(serverless\.(ya?ml|json|[jt]s)|template\.ya?ml|samconfig\.toml)$/, "AWS Lambda"],
];

/** Lists the source files under `root`, relative with `/`, sorted. */
export function listSources(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) visit(path.join(dir, entry.name), relPath);
      } else if (entry.isFile() && SOURCE.test(entry.name) && !DECLARATION.test(entry.name))
        out.push(relPath);
    }
  };
  visit(root, "");
  return out.sort();
}

/** Reads and parses the app under `root` (which the caller has checked is a readable directory). */
export function loadApp(root: string): App {
  const pkg = readJson(path.join(root, "package.json"));
  const deps = new Set<string>([
    ...Object.keys(asRecord(pkg?.dependencies)),
    ...Object.keys(asRecord(pkg?.devDependencies)),
  ]);
  const platforms = new Set<Platform>();
  for (const dep of deps) if (PLATFORM_DEPENDENCIES[dep]) platforms.add(PLATFORM_DEPENDENCIES[dep]);
  for (const name of readdirSync(root))
    for (const [pattern, platform] of PLATFORM_FILES) if (pattern.test(name)) platforms.add(platform);
  const app: App = {
    root,
    files: 0,
    modules: new Map(),
    unparsed: [],
    packageName: typeof pkg?.name === "string" ? pkg.name : null,
    packageType: pkg?.type === "module" ? "module" : pkg ? "commonjs" : null,
    dependencies: deps,
    platforms,
    aliases: readAliases(root),
  };
  for (const file of listSources(root)) {
    let code: string;
    try {
      code = readFileSync(path.join(root, file), "utf8");
    } catch {
      continue;
    }
    app.files++;
    const parsed = parseSource(code, file);
    if (parsed.ok) app.modules.set(file, moduleFacts(file, code, parsed.program));
    else app.unparsed.push({ file, code, line: parsed.line, column: parsed.column, message: parsed.message });
  }
  return app;
}

/** The file an import specifier in `from` names, among the files read, or null (a package). */
export function resolveSpecifier(app: App, from: string, specifier: string): string | null {
  let bases: string[];
  if (specifier.startsWith(".")) bases = [path.posix.join(path.posix.dirname(from), specifier)];
  else {
    const alias = app.aliases.find((a) => specifier.startsWith(a.prefix));
    if (!alias) return null;
    bases = alias.targets.map((t) => path.posix.normalize(t + specifier.slice(alias.prefix.length)));
  }
  for (const base of bases) {
    const stem = base.replace(/\.[cm]?js$/, "");
    const candidates = [
      base,
      ...EXTENSIONS.map((e) => stem + e),
      ...EXTENSIONS.map((e) => `${base}/index${e}`),
    ];
    for (const c of candidates) if (app.modules.has(c)) return c;
  }
  return null;
}

/** `compilerOptions.paths` from tsconfig.json or jsconfig.json, plus Next.js's usual `@/`. */
function readAliases(root: string): App["aliases"] {
  const aliases: App["aliases"] = [];
  for (const name of ["tsconfig.json", "jsconfig.json"]) {
    const options = asRecord(readJson(path.join(root, name))?.compilerOptions);
    const baseUrl = typeof options.baseUrl === "string" ? options.baseUrl : ".";
    for (const [key, targets] of Object.entries(asRecord(options.paths))) {
      if (!Array.isArray(targets)) continue;
      aliases.push({
        prefix: key.replace(/\*$/, ""),
        targets: targets
          .filter((t): t is string => typeof t === "string")
          .map((t) =>
            path.posix.normalize(path.posix.join(baseUrl, t.replace(/\*$/, ""))).replace(/^\.\//, ""),
          ),
      });
    }
  }
  if (!aliases.some((a) => a.prefix === "@/"))
    aliases.push({ prefix: "@/", targets: existsSync(path.join(root, "src")) ? ["src/", ""] : [""] });
  return aliases.sort((a, b) => b.prefix.length - a.prefix.length);
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from disk, read field by field.
function readJson(file: string): Record<string, any> | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(stripJsonComments(text));
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

/** tsconfig files allow comments and trailing commas; strings are left intact. */
function stripJsonComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2);
      if (i < 0) break;
      i++;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, "$1");
}
