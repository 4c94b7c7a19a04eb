/**
 * `npm run spec:trim -- FULL_SPEC [--out PATH]`: trims MongoDB's full Atlas Admin API v2 OpenAPI spec
 * (about 4 MB of YAML) to the operations this project calls, so the tests can hold the client and the
 * fake Atlas to the spec from a small copy kept in the repository.
 *
 * Kept: the operations in ATLAS_OPERATIONS below, every component they reference (following `$ref`s and
 * discriminator mappings transitively), the security schemes their security requirements name,
 * `openapi`, `info`, `servers`, `security` and the tags those operations carry. Nothing kept is edited,
 * only re-serialised; the output starts with a comment header naming the source and its licence.
 * Path templates and component names are sorted, so the same input always gives the same bytes.
 *
 * PATH defaults to test/fixtures/atlas-admin-api/v2.trimmed.yaml; `--out -` writes to stdout.
 * Exits 2 on bad usage, an unreadable spec, or a listed operation the spec lacks.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";

export interface SpecOperation {
  method: "get" | "put" | "post" | "delete" | "patch";
  path: string;
  operationId: string;
}

/**
 * Every Atlas Admin API operation the project calls: src/atlas/admin-client.ts makes these requests,
 * fakes/atlas-api.ts answers them, and test/node/atlas-spec.test.ts checks both against the spec.
 * The OAuth token endpoint is not a path in the spec: the ServiceAccounts security scheme describes it.
 */
export const ATLAS_OPERATIONS: readonly SpecOperation[] = [
  {
    method: "get",
    path: "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}",
    operationId: "getGroupCluster",
  },
  {
    method: "post",
    path: "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}/restartPrimaries",
    operationId: "restartGroupClusterPrimaries",
  },
  {
    method: "get",
    path: "/api/atlas/v2/groups/{groupId}/flexClusters/{name}",
    operationId: "getGroupFlexCluster",
  },
  { method: "get", path: "/api/atlas/v2/groups/{groupId}/processes", operationId: "listGroupProcesses" },
  {
    method: "get",
    path: "/api/atlas/v2/groups/{groupId}/processes/{processId}/measurements",
    operationId: "getGroupProcessMeasurements",
  },
  { method: "get", path: "/api/atlas/v2/groups/{groupId}/alerts/{alertId}", operationId: "getGroupAlert" },
  {
    method: "patch",
    path: "/api/atlas/v2/groups/{groupId}/alerts/{alertId}",
    operationId: "acknowledgeGroupAlert",
  },
];

/** Where MongoDB publishes the spec; the spec itself does not name its repository. */
export const UPSTREAM_REPOSITORY = "https://github.com/mongodb/openapi (file openapi/v2.yaml)";

const DEFAULT_OUT = fileURLToPath(
  new URL("../test/fixtures/atlas-admin-api/v2.trimmed.yaml", import.meta.url),
);
const USAGE = "usage: node scripts/spec-trim.ts FULL_SPEC [--out PATH|-]";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

type Json = Record<string, unknown>;

/** A problem with the input or the command line: reported as one message and exit code 2. */
export class SpecTrimError extends Error {}

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `#/components/<section>/<name>[/…]` → [section, name]; a ref into a component keeps all of it. */
function componentOf(ref: string): [string, string] {
  if (!ref.startsWith("#/")) throw new SpecTrimError(`unsupported $ref ${ref}: only local refs are followed`);
  const [root, section, name] = ref
    .slice(2)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (root !== "components" || !section || !name) {
    throw new SpecTrimError(`unsupported $ref ${ref}: only refs into components are followed`);
  }
  return [section, name];
}

/** Every ref a node makes: `$ref` values and discriminator mappings (which may name bare schemas). */
function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) refsIn(item, found);
    return found;
  }
  if (!isObject(node)) return found;
  if (typeof node.$ref === "string") found.push(node.$ref);
  const discriminator = node.discriminator;
  if (isObject(discriminator) && typeof discriminator.propertyName === "string") {
    for (const target of Object.values(isObject(discriminator.mapping) ? discriminator.mapping : {})) {
      if (typeof target === "string") {
        found.push(target.startsWith("#") ? target : `#/components/schemas/${target}`);
      }
    }
  }
  for (const value of Object.values(node)) refsIn(value, found);
  return found;
}

function securitySchemesIn(requirements: unknown): string[] {
  return Array.isArray(requirements) ? requirements.flatMap((r) => (isObject(r) ? Object.keys(r) : [])) : [];
}

/** The docs site the operations' `x-xgen-docs-url`s share, when they agree on one. */
function docsBase(operations: Json[]): string | undefined {
  const bases = new Set(
    operations.flatMap((op) => {
      const url = op["x-xgen-docs-url"];
      return typeof url === "string" ? [url.split("#", 1)[0]!] : [];
    }),
  );
  return bases.size === 1 ? [...bases][0] : undefined;
}

export interface TrimResult {
  text: string;
  operations: number;
  components: number;
}

/** Trims a full spec's YAML text to `operations`; throws SpecTrimError on anything it cannot keep. */
export function trimSpec(
  fullText: string,
  operations: readonly SpecOperation[] = ATLAS_OPERATIONS,
): TrimResult {
  let spec: unknown;
  try {
    spec = parse(fullText, { maxAliasCount: -1 });
  } catch (error) {
    throw new SpecTrimError(`the spec is not valid YAML: ${(error as Error).message.split("\n", 1)[0]}`);
  }
  if (!isObject(spec) || !isObject(spec.paths)) throw new SpecTrimError("the spec has no paths");
  const info = isObject(spec.info) ? spec.info : {};
  const license = isObject(info.license) ? info.license : {};
  if (typeof license.name !== "string" || typeof info.version !== "string") {
    throw new SpecTrimError("the spec has no info.license.name or info.version to credit");
  }
  const components = isObject(spec.components) ? spec.components : {};
  const allPaths = spec.paths;

  // The listed operations, grouped by path; all of them checked before anything is written.
  const problems: string[] = [];
  const keptPaths = new Map<string, Json>();
  const keptOperations: Json[] = [];
  for (const { method, path, operationId } of operations) {
    const item = allPaths[path];
    const operation = isObject(item) ? item[method] : undefined;
    if (!isObject(operation)) {
      problems.push(`missing operation ${method.toUpperCase()} ${path} (${operationId})`);
      continue;
    }
    if (operation.operationId !== operationId) {
      problems.push(
        `operation ${method.toUpperCase()} ${path} is ${String(operation.operationId)} in the spec, not ${operationId}`,
      );
      continue;
    }
    const kept = keptPaths.get(path) ?? {};
    kept[method] = operation;
    keptPaths.set(path, kept);
    keptOperations.push(operation);
  }
  if (problems.length > 0) throw new SpecTrimError(problems.join("\n"));

  const paths: Json = {};
  for (const path of [...keptPaths.keys()].sort(byName)) {
    const item = allPaths[path] as Json;
    const kept = keptPaths.get(path)!;
    // Path-level fields (shared parameters, summary, servers) stay; only the unlisted methods go.
    const trimmed: Json = {};
    for (const [key, value] of Object.entries(item)) {
      if (!METHODS.includes(key) || key in kept) trimmed[key] = value;
    }
    paths[path] = trimmed;
  }

  // Components reachable from the kept paths and the security schemes in force, to a fixed point.
  // Security requirements name their schemes instead of referencing them, so they seed the walk too.
  const schemes = new Set([
    ...securitySchemesIn(spec.security),
    ...keptOperations.flatMap((op) => securitySchemesIn(op.security)),
  ]);
  const pending = [
    ...refsIn(paths),
    ...[...schemes].map((s) => `#/components/securitySchemes/${s.replace(/~/g, "~0").replace(/\//g, "~1")}`),
  ];
  const needed = new Map<string, Set<string>>();
  const seen = new Set<string>();
  while (pending.length > 0) {
    const ref = pending.pop()!;
    if (seen.has(ref)) continue;
    seen.add(ref);
    const [section, name] = componentOf(ref);
    const target = isObject(components[section]) ? components[section][name] : undefined;
    if (target === undefined) throw new SpecTrimError(`unresolved $ref ${ref}`);
    const names = needed.get(section) ?? new Set<string>();
    if (names.has(name)) continue;
    names.add(name);
    needed.set(section, names);
    refsIn(target, pending);
  }
  const keptComponents: Json = {};
  let componentCount = 0;
  for (const section of Object.keys(components).sort(byName)) {
    const names = needed.get(section);
    if (!names) continue;
    const source = components[section] as Json;
    keptComponents[section] = Object.fromEntries(
      [...names].sort(byName).map((name) => [name, source[name]] as const),
    );
    componentCount += names.size;
  }

  const usedTags = new Set(
    keptOperations.flatMap((op) =>
      Array.isArray(op.tags) ? op.tags.filter((t) => typeof t === "string") : [],
    ),
  );
  const tags = Array.isArray(spec.tags)
    ? spec.tags.filter((tag) => isObject(tag) && usedTags.has(tag.name as string))
    : undefined;

  const trimmed: Json = { openapi: spec.openapi, info };
  if (spec.servers !== undefined) trimmed.servers = spec.servers;
  if (spec.security !== undefined) trimmed.security = spec.security;
  if (tags && tags.length > 0) trimmed.tags = tags;
  trimmed.paths = paths;
  trimmed.components = keptComponents;

  const body = stringify(trimmed, { lineWidth: 0, aliasDuplicateObjects: false });
  return {
    text: `${header(spec, info, license, keptOperations, fullText)}${body}`,
    operations: keptOperations.length,
    components: componentCount,
  };
}

function header(spec: Json, info: Json, license: Json, operations: Json[], fullText: string): string {
  const sha256 = createHash("sha256").update(fullText).digest("hex");
  const title = typeof info.title === "string" ? info.title : "Atlas Administration API";
  const build = typeof info["x-xgen-sha"] === "string" ? `, x-xgen-sha ${info["x-xgen-sha"]}` : "";
  const docs = docsBase(operations);
  const licenseUrl = typeof license.url === "string" ? ` (${license.url})` : "";
  const lines = [
    `Atlas Admin API v2 OpenAPI spec, trimmed to the ${operations.length} operations atlas-responder calls.`,
    "",
    "This is a trimmed copy of MongoDB's official Atlas Administration API v2 OpenAPI spec:",
    `  ${JSON.stringify(title)}, info.version ${String(info.version)}${build}, OpenAPI ${String(spec.openapi)}.`,
    `  MongoDB publishes it at ${UPSTREAM_REPOSITORY}.`,
    ...(docs ? [`  Its operations are documented at ${docs}`] : []),
    `  SHA-256 of the full spec this copy was cut from: ${sha256}`,
    "",
    "Changes: only the operations listed in ATLAS_OPERATIONS (scripts/spec-trim.ts) and the components",
    "they reference, transitively, are kept, with openapi, info, servers, security and their tags;",
    "everything else is removed. What is kept is unaltered apart from YAML layout and key order.",
    "test/support/openapi.ts reads this file to check the Atlas client and the fake Atlas against it.",
    "",
    "Regenerate, do not edit: npm run spec:trim -- FULL_SPEC",
    "  (FULL_SPEC: the full spec's YAML, e.g. openapi/v2.yaml from the repository above.)",
    "",
    `Licence: ${String(license.name)}${licenseUrl}, as the spec's info.license states.`,
    "This file is MongoDB's work under that licence, not part of the project's MIT-licensed code;",
    "see LICENSE.md beside the committed copy.",
  ];
  return `${lines.map((line) => (line ? `# ${line}` : "#")).join("\n")}\n`;
}

function parseArguments(argv: string[]): { input: string; out: string } {
  let input: string | undefined;
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--out") {
      const value = argv[++i];
      if (!value) throw new SpecTrimError("--out needs a path (or - for stdout)");
      out = value;
    } else if (arg.startsWith("--out=")) {
      out = arg.slice("--out=".length);
      if (!out) throw new SpecTrimError("--out needs a path (or - for stdout)");
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new SpecTrimError(`unknown option ${arg}`);
    } else if (input === undefined) {
      input = arg;
    } else {
      throw new SpecTrimError(`one FULL_SPEC only, got ${input} and ${arg}`);
    }
  }
  if (input === undefined) throw new SpecTrimError("FULL_SPEC is missing");
  return { input, out };
}

function main(argv: string[]): number {
  let usage = true;
  try {
    const { input, out } = parseArguments(argv);
    let text: string;
    try {
      text = readFileSync(input, "utf8");
    } catch (error) {
      throw new SpecTrimError(`cannot read ${input}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    usage = false;
    const result = trimSpec(text);
    if (out === "-") {
      process.stdout.write(result.text);
    } else {
      mkdirSync(dirname(resolve(out)), { recursive: true });
      writeFileSync(out, result.text);
      const shown = relative(process.cwd(), resolve(out)) || out;
      console.error(
        `wrote ${shown}: ${result.operations} operations, ${result.components} components, ` +
          `${Buffer.byteLength(result.text)} bytes`,
      );
    }
    return 0;
  } catch (error) {
    if (!(error instanceof SpecTrimError)) throw error;
    console.error(`spec-trim: ${error.message}`);
    if (usage) console.error(USAGE);
    return 2;
  }
}

// Run only as a script: the tests import ATLAS_OPERATIONS from this module.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
