/**
 * scripts/spec-trim.ts, run as the command it is, over a small hand-made spec: it keeps exactly the
 * listed operations and what they reference, drops the rest, heads the output with the source and its
 * licence, always writes the same bytes, and refuses a spec that lacks a listed operation. Then the
 * committed trimmed copy: it must carry every operation the script lists (so the two cannot drift),
 * resolve every ref it makes, and state its licence.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ATLAS_OPERATIONS } from "../../scripts/spec-trim.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../../scripts/spec-trim.ts", import.meta.url));
const COMMITTED = fileURLToPath(new URL("../fixtures/atlas-admin-api/v2.trimmed.yaml", import.meta.url));
const LICENSE_NOTICE = fileURLToPath(new URL("../fixtures/atlas-admin-api/LICENSE.md", import.meta.url));

type Json = Record<string, unknown>;

const LICENSE = { name: "CC BY-NC-SA 3.0 US", url: "https://creativecommons.org/licenses/by-nc-sa/3.0/us/" };
const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A spec with every listed operation, one unlisted path, one unlisted method and unused components. */
function handMadeSpec(): Json {
  const paths: Record<string, Json> = {};
  for (const { method, path, operationId } of ATLAS_OPERATIONS) {
    paths[path] ??= {};
    paths[path][method] = {
      operationId,
      tags: ["Clusters"],
      parameters: [{ $ref: "#/components/parameters/groupId" }],
      responses: {
        "200": {
          content: { "application/vnd.atlas.2023-01-01+json": { schema: schemaRef("Used") } },
          description: "OK",
        },
        "404": { $ref: "#/components/responses/notFound" },
      },
      "x-xgen-docs-url": `https://docs.example.invalid/v2/#operation/${operationId}`,
    };
  }
  paths["/api/atlas/v2/groups/{groupId}/clusters/{clusterName}"]!.delete = {
    operationId: "deleteGroupCluster",
    tags: ["Unlisted"],
    responses: { "202": { $ref: "#/components/responses/accepted" } },
  };
  paths["/api/atlas/v2/groups"] = {
    get: {
      operationId: "listGroups",
      tags: ["Unlisted"],
      responses: { "200": { content: { "application/json": { schema: schemaRef("OnlyUnlisted") } } } },
    },
  };
  return {
    components: {
      headers: {
        RetryAfter: { schema: { type: "integer" } },
        Unused: { schema: { type: "string" } },
      },
      parameters: {
        groupId: { in: "path", name: "groupId", required: true, schema: { type: "string" } },
        unusedParam: { in: "query", name: "unused", schema: { type: "string" } },
      },
      responses: {
        accepted: { description: "Accepted" },
        notFound: {
          content: { "application/json": { schema: schemaRef("ApiError") } },
          description: "Not Found",
          headers: { "Retry-After": { $ref: "#/components/headers/RetryAfter" } },
        },
      },
      schemas: {
        ApiError: { properties: { detail: { type: "string" } }, type: "object" },
        Child: { allOf: [schemaRef("Parent"), { properties: { c: { type: "string" } } }] },
        ChildByRef: { allOf: [schemaRef("Parent"), { properties: { d: schemaRef("Deep") } }] },
        Deep: { items: schemaRef("Deepest"), type: "array" },
        Deepest: { type: "string" },
        Nested: { allOf: [{ properties: { deep: schemaRef("Deep") } }] },
        OnlyUnlisted: { properties: { x: schemaRef("Unused") }, type: "object" },
        Parent: {
          // A bare schema name and a full ref: both are mapping forms OpenAPI allows.
          discriminator: {
            mapping: { C: "Child", D: "#/components/schemas/ChildByRef" },
            propertyName: "kind",
          },
          properties: { kind: { type: "string" } },
          type: "object",
        },
        RefersToUsed: { properties: { used: schemaRef("Used") } },
        Unused: { type: "string" },
        Used: { properties: { nested: schemaRef("Nested"), parent: schemaRef("Parent") }, type: "object" },
      },
      securitySchemes: {
        DigestAuth: { scheme: "digest", type: "http" },
        Unused: { scheme: "basic", type: "http" },
      },
    },
    info: { license: LICENSE, title: "MongoDB Atlas Administration API", version: "2.0" },
    openapi: "3.0.1",
    paths,
    security: [{ DigestAuth: [] }],
    servers: [{ url: "https://cloud.mongodb.com" }],
    tags: [
      { description: "Clusters.", name: "Clusters" },
      { description: "Nothing listed uses it.", name: "Unlisted" },
    ],
    "x-topics": [{ content: "Rate limits.", title: "Rate Limiting" }],
  };
}

let dir: string;
let input: string;

function trim(...args: string[]) {
  const run = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: "utf8" });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Every `$ref` value anywhere in a document. */
function refsOf(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refsOf);
  if (typeof node !== "object" || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === "$ref" && typeof value === "string" ? [value] : refsOf(value),
  );
}

const operationsOf = (spec: Json) =>
  Object.entries(spec.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => `${method} ${path} ${(op as Json).operationId}`),
  );
const listed = ATLAS_OPERATIONS.map((o) => `${o.method} ${o.path} ${o.operationId}`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "spec-trim-"));
  input = join(dir, "full.yaml");
  writeFileSync(input, stringify(handMadeSpec()));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("spec-trim over a hand-made spec", () => {
  let text: string;
  let trimmed: Json;

  beforeAll(() => {
    const out = join(dir, "trimmed.yaml");
    const run = trim(input, "--out", out);
    expect(run.stderr).toContain("7 operations");
    expect(run.status).toBe(0);
    text = readFileSync(out, "utf8");
    trimmed = parse(text) as Json;
  });

  it("keeps only the listed operations, and their tags", () => {
    expect(operationsOf(trimmed).sort()).toEqual([...listed].sort());
    expect(trimmed.tags).toEqual([{ description: "Clusters.", name: "Clusters" }]);
  });

  it("keeps every component the operations reference, transitively, discriminator mappings included", () => {
    const components = trimmed.components as Record<string, Json>;
    expect(Object.keys(components.schemas!)).toEqual([
      "ApiError",
      "Child",
      "ChildByRef",
      "Deep",
      "Deepest",
      "Nested",
      "Parent",
      "Used",
    ]);
    expect(Object.keys(components.parameters!)).toEqual(["groupId"]);
    expect(Object.keys(components.responses!)).toEqual(["notFound"]);
    expect(Object.keys(components.headers!)).toEqual(["RetryAfter"]);
    expect(components.securitySchemes).toEqual({ DigestAuth: { scheme: "digest", type: "http" } });
    // Kept components are copied as they are.
    const source = handMadeSpec().components as Record<string, Json>;
    expect(components.schemas!.Parent).toEqual(source.schemas!.Parent);
  });

  it("drops unreferenced components, even those that reference kept ones", () => {
    const schemas = (trimmed.components as Record<string, Json>).schemas!;
    for (const name of ["Unused", "OnlyUnlisted", "RefersToUsed"]) expect(schemas).not.toHaveProperty(name);
    expect(trimmed).not.toHaveProperty("x-topics");
  });

  it("keeps openapi, info (licence and version), servers and security", () => {
    expect(trimmed.openapi).toBe("3.0.1");
    expect(trimmed.info).toEqual({
      license: LICENSE,
      title: "MongoDB Atlas Administration API",
      version: "2.0",
    });
    expect(trimmed.servers).toEqual([{ url: "https://cloud.mongodb.com" }]);
    expect(trimmed.security).toEqual([{ DigestAuth: [] }]);
  });

  it("heads the file with what it is, its source, how to regenerate it and its licence", () => {
    const header = text.slice(0, text.indexOf("\nopenapi:"));
    expect(header.split("\n").every((line) => line.startsWith("#"))).toBe(true);
    expect(header).toContain("trimmed copy of MongoDB's official Atlas Administration API v2 OpenAPI spec");
    expect(header).toContain('"MongoDB Atlas Administration API", info.version 2.0');
    expect(header).toContain("https://github.com/mongodb/openapi");
    expect(header).toContain("https://docs.example.invalid/v2/");
    expect(header).toContain("npm run spec:trim -- FULL_SPEC");
    expect(header).toContain(`Licence: ${LICENSE.name} (${LICENSE.url})`);
    expect(header).toContain("not part of the project's MIT-licensed code");
  });

  it("writes the same bytes every time, to a file or to stdout", () => {
    const again = join(dir, "again.yaml");
    expect(trim(input, "--out", again).status).toBe(0);
    expect(readFileSync(again, "utf8")).toBe(text);
    const toStdout = trim(input, "--out", "-");
    expect(toStdout.status).toBe(0);
    expect(toStdout.stdout).toBe(text);
  });

  it("exits 2 naming a listed operation the spec lacks, and writes nothing", () => {
    const spec = handMadeSpec();
    const paths = spec.paths as Record<string, Json>;
    delete paths["/api/atlas/v2/groups/{groupId}/alerts/{alertId}"]!.patch;
    const lacking = join(dir, "lacking.yaml");
    writeFileSync(lacking, stringify(spec));
    const out = join(dir, "lacking-out.yaml");
    const run = trim(lacking, "--out", out);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      "missing operation PATCH /api/atlas/v2/groups/{groupId}/alerts/{alertId} (acknowledgeGroupAlert)",
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("exits 2 with a usage line, no stack trace, without an argument or with a missing file", () => {
    for (const args of [[], [join(dir, "no-such.yaml")], [input, "--out"], [input, "--bogus"]]) {
      const run = trim(...args);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr).toContain("usage: node scripts/spec-trim.ts FULL_SPEC");
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe("the committed trimmed spec", () => {
  const text = readFileSync(COMMITTED, "utf8");
  const spec = parse(text) as Json;

  it("holds exactly the operations the script lists", () => {
    expect(operationsOf(spec).sort()).toEqual([...listed].sort());
  });

  it("resolves every ref it makes within itself", () => {
    const unresolved = [...new Set(refsOf(spec))].filter((ref) => {
      const target = ref
        .slice(2)
        .split("/")
        .reduce<unknown>((at, key) => (at as Json | undefined)?.[key], spec);
      return !ref.startsWith("#/") || target === undefined;
    });
    expect(unresolved).toEqual([]);
  });

  it("states MongoDB's licence in its header, its info, and the notice beside it", () => {
    const license = (spec.info as { license: { name: string; url: string } }).license;
    expect(license).toEqual(LICENSE);
    const header = text.slice(0, text.indexOf("\nopenapi:"));
    expect(header).toContain("This is a trimmed copy of MongoDB's official Atlas Administration API v2");
    expect(header).toContain(`Licence: ${license.name} (${license.url})`);
    const notice = readFileSync(LICENSE_NOTICE, "utf8");
    expect(notice).toContain(license.name);
    expect(notice).toContain(license.url);
  });
});
