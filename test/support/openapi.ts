/**
 * Checks HTTP exchanges against the official Atlas Admin API spec, as trimmed to the operations this
 * project calls (`test/fixtures/atlas-admin-api/v2.trimmed.yaml`, made by `npm run spec:trim`; MongoDB's
 * work under CC BY-NC-SA 3.0 US, see the LICENSE.md beside it): a request's path template, method, path
 * and query parameters, `Accept` version and body; a response's media type and body against the schema
 * declared for its status.
 *
 * It owns the small converter from the spec's OpenAPI 3.0 schemas to JSON Schema 2019-09 for ajv. ajv
 * cannot use the schemas as written, nor does real Atlas always keep to them, hence these workarounds:
 *   - `nullable: true` (OpenAPI 3.0 only) becomes a union with null;
 *   - boolean `exclusiveMinimum`/`exclusiveMaximum` (3.0) become the numeric bounds of 2019-09;
 *   - a child whose `allOf` names its discriminated parent gets a copy of the parent without its
 *     `oneOf`/`discriminator` (else validation recurses forever);
 *   - a `discriminator` with a mapping validates a payload against the branch its property names,
 *     alone (the parent's own fields can contradict the child's: HostMetricAlert.currentValue is
 *     HostMetricValue, RawMetricAlertView's is RawMetricValueView); other `oneOf`s overlap on valid
 *     data (e.g. hardware specs match AWS and Azure alike), so they become `anyOf`;
 *   - `type: object` over alternatives that are all strings (`regionName`, alert `eventTypeName`) is
 *     dropped, since no value could satisfy both;
 *   - patterns with `\:` are compiled without the `u` flag (ajv `unicodeRegExp: false`), where that
 *     escape is an error;
 *   - `MetricDataPoint_Atlas.value` is declared a plain number, yet Atlas sends `null` for an interval
 *     with no data, so it is made nullable;
 *   - `ApiError.parameters` is declared as an array of objects, yet Atlas sends the strings its message
 *     names (e.g. `["Cluster0"]`), so its items are left open.
 * And one addition that makes the check stricter than the spec alone: object schemas get
 * `unevaluatedProperties: false` (except where `allOf` composes them), so a fake that invents or
 * misspells a field fails instead of passing silently.
 *
 * The trimmed copy (about 300 KB instead of the full 4 MB) parses in well under a second; still, load it
 * once per test file.
 */
import { readFileSync } from "node:fs";
import Ajv2019Import from "ajv/dist/2019.js";
import { parse } from "yaml";

// The committed trimmed copy; regenerate it with `npm run spec:trim -- FULL_SPEC`.
export const ATLAS_SPEC_URL = new URL("../fixtures/atlas-admin-api/v2.trimmed.yaml", import.meta.url);

const SPEC_ID = "https://atlas-spec.invalid/v2";
const SCHEMA_REF = "#/components/schemas/";

type Json = Record<string, unknown>;

/** ajv's CommonJS default export arrives wrapped or not, depending on who loads it. */
const Ajv2019 = ((Ajv2019Import as unknown as { default?: unknown }).default ??
  Ajv2019Import) as typeof Ajv2019Import;
type AjvInstance = InstanceType<typeof Ajv2019Import>;

export interface ExchangeRequest {
  method: string;
  /** Decoded path, e.g. "/api/atlas/v2/groups/…/processes/host:27017/measurements". */
  path: string;
  query: Record<string, string[]>;
  accept?: string;
  contentType?: string;
  body?: unknown;
}

export interface ExchangeResponse {
  method: string;
  path: string;
  status: number;
  contentType?: string;
  body: unknown;
}

export interface OperationMatch {
  template: string;
  method: string;
  operationId: string;
  operation: Json;
  pathParams: Record<string, string>;
  /** Path-level and operation-level parameters, `$ref`s resolved. */
  parameters: Json[];
}

export interface AtlasSpec {
  readonly document: Json;
  /** The spec operation for a method and a concrete path, if any. */
  findOperation(method: string, path: string): OperationMatch | undefined;
  /** Versions (YYYY-MM-DD) an operation's success responses list. */
  versionsOf(operationId: string): string[];
  /** Everything wrong with a request: [] when it conforms. */
  checkRequest(request: ExchangeRequest): string[];
  /** Everything wrong with a response: [] when it conforms. */
  checkResponse(response: ExchangeResponse): string[];
  /** Validates data against a named component schema. */
  validateSchema(name: string, data: unknown): string[];
}

// ------------------------------------------------------------------------------------------------
// OpenAPI 3.0 → JSON Schema 2019-09

const DROP_KEYS = new Set([
  "example",
  "examples",
  "externalDocs",
  "xml",
  "discriminator",
  "nullable",
  "description",
]);

function refName(ref: unknown): string | undefined {
  return typeof ref === "string" && ref.startsWith(SCHEMA_REF) ? ref.slice(SCHEMA_REF.length) : undefined;
}

function isStringAlternative(node: unknown): boolean {
  return typeof node === "object" && node !== null && (node as Json).type === "string";
}

/** Converts the spec's component schemas, applying the workarounds in the file header. */
export function convertSchemas(source: Record<string, Json>): Record<string, Json> {
  const schemas: Record<string, Json> = structuredClone(source);

  // Quirk: Atlas sends `value: null` for intervals without data.
  const dataPoint = schemas.MetricDataPoint_Atlas?.properties as Record<string, Json> | undefined;
  if (dataPoint?.value) dataPoint.value.nullable = true;
  // Quirk: ApiError.parameters is declared as objects, but Atlas fills it with the strings its
  // message names (e.g. the cluster name), as clients print them ("Params: [Cluster0]").
  const apiErrorParameters = (schemas.ApiError?.properties as Record<string, Json> | undefined)?.parameters;
  if (apiErrorParameters) apiErrorParameters.items = {};

  // Discriminated parents referenced back from their children's allOf: give those children a base copy.
  for (const [name, schema] of Object.entries(schemas)) {
    const alternatives = [...((schema.oneOf as Json[]) ?? []), ...((schema.anyOf as Json[]) ?? [])];
    const mapping = Object.values(((schema.discriminator as Json)?.mapping as Record<string, string>) ?? {});
    const children = new Set([...alternatives.map((a) => refName(a.$ref)), ...mapping.map(refName)]);
    let needsBase = false;
    for (const child of children) {
      const members = child ? (schemas[child]?.allOf as Json[] | undefined) : undefined;
      for (const member of members ?? []) {
        if (member.$ref === `${SCHEMA_REF}${name}`) {
          member.$ref = `${SCHEMA_REF}${name}__base`;
          needsBase = true;
        }
      }
    }
    if (needsBase) {
      const { oneOf: _o, anyOf: _a, discriminator: _d, ...base } = schema;
      schemas[`${name}__base`] = structuredClone(base);
    }
  }

  // Named schemas composed through allOf must stay open: the composing schema closes them.
  const allOfTargets = new Set<string>();
  const collect = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(collect);
    if (typeof node !== "object" || node === null) return;
    const json = node as Json;
    for (const member of (json.allOf as Json[]) ?? []) {
      const target = refName(member.$ref);
      if (target) allOfTargets.add(target);
    }
    Object.values(json).forEach(collect);
  };
  collect(schemas);

  const convert = (node: unknown, open: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => convert(n, false));
    if (typeof node !== "object" || node === null) return node;
    const input = node as Json;
    if (typeof input.$ref === "string") return { $ref: `${SPEC_ID}${input.$ref}` };
    const out: Json = {};
    for (const [key, value] of Object.entries(input)) {
      if (DROP_KEYS.has(key) || key.startsWith("x-")) continue;
      if (key === "properties" || key === "patternProperties") {
        out[key] = Object.fromEntries(
          Object.entries(value as Json).map(([prop, schema]) => [prop, convert(schema, false)]),
        );
      } else if (key === "allOf") {
        out.allOf = (value as unknown[]).map((member) => convert(member, true));
      } else if (key === "oneOf" || key === "anyOf") {
        out.anyOf = [
          ...((out.anyOf as unknown[]) ?? []),
          ...(value as unknown[]).map((m) => convert(m, false)),
        ];
      } else if (
        key === "items" ||
        key === "not" ||
        (key === "additionalProperties" && typeof value === "object")
      ) {
        out[key] = convert(value, false);
      } else {
        out[key] = value;
      }
    }
    // Boolean exclusive bounds (3.0) → numeric bounds (2019-09).
    for (const [flag, bound] of [
      ["exclusiveMinimum", "minimum"],
      ["exclusiveMaximum", "maximum"],
    ] as const) {
      if (typeof out[flag] === "boolean") {
        if (out[flag] === true && typeof out[bound] === "number") {
          out[flag] = out[bound];
          delete out[bound];
        } else {
          delete out[flag];
        }
      }
    }
    // `type: object` over string alternatives: every alternative is a string, so the type is wrong.
    const alternatives = [...((input.oneOf as unknown[]) ?? []), ...((input.anyOf as unknown[]) ?? [])];
    if (out.type === "object" && alternatives.length > 0 && alternatives.every(isStringAlternative))
      delete out.type;
    const isObject =
      out.type === "object" ||
      out.properties !== undefined ||
      out.allOf !== undefined ||
      out.anyOf !== undefined;
    const describesFields = out.properties !== undefined || out.allOf !== undefined;
    if (!open && isObject && describesFields && out.additionalProperties === undefined) {
      out.unevaluatedProperties = false;
    }
    // A discriminator with a mapping: a payload whose property names a branch is validated against that
    // branch alone, as OpenAPI intends. The parent's own properties may contradict the child's
    // (HostMetricAlert.currentValue is HostMetricValue, RawMetricAlertView's is RawMetricValueView);
    // other payloads fall back to the parent itself.
    const discriminator = input.discriminator as
      | { propertyName?: string; mapping?: Record<string, string> }
      | undefined;
    let result: Json = out;
    if (discriminator?.propertyName && discriminator.mapping) {
      const property = discriminator.propertyName;
      const branches = Object.entries(discriminator.mapping).map(([value, ref]) => ({
        if: { required: [property], properties: { [property]: { const: value } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable.
        then: { $ref: `${SPEC_ID}${ref}` },
      }));
      result = {
        if: {
          required: [property],
          properties: { [property]: { enum: Object.keys(discriminator.mapping) } },
        },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable.
        then: { allOf: branches },
        else: out,
      };
    }
    if (input.nullable === true) {
      if (result === out && typeof out.type === "string") {
        out.type = [out.type, "null"];
        if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
      } else {
        return { anyOf: [result, { type: "null" }] };
      }
    }
    return result;
  };

  return Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => [
      name,
      convert(schema, allOfTargets.has(name) || name.endsWith("__base")),
    ]),
  ) as Record<string, Json>;
}

// ------------------------------------------------------------------------------------------------

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

function newAjv(coerce: boolean): AjvInstance {
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    unicodeRegExp: false,
    coerceTypes: coerce ? "array" : false,
  });
  ajv.addFormat("date-time", (value: string) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));
  for (const format of [
    "int32",
    "int64",
    "float",
    "double",
    "email",
    "uri",
    "url",
    "uuid",
    "byte",
    "binary",
    "password",
    "date",
  ]) {
    ajv.addFormat(format, true);
  }
  return ajv;
}

function formatErrors(ajv: AjvInstance, errors: unknown, where: string): string[] {
  if (!Array.isArray(errors) || errors.length === 0) return [];
  return [`${where}: ${ajv.errorsText(errors as never, { separator: "; ", dataVar: "body" })}`];
}

function versionOf(mediaType: string | undefined): string | undefined {
  return /application\/vnd\.atlas\.(\d{4}-\d{2}-\d{2}|preview)\+json/i.exec(mediaType ?? "")?.[1];
}

const bareMediaType = (value: string | undefined) =>
  (value ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";

/** Loads and prepares the committed trimmed spec. */
export function loadAtlasSpec(): AtlasSpec {
  const document = parse(readFileSync(ATLAS_SPEC_URL, "utf8"), { maxAliasCount: -1 }) as Json;
  const components = document.components as Json;
  const schemas = convertSchemas(components.schemas as Record<string, Json>);
  const ajv = newAjv(false);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas } });
  const paramsAjv = newAjv(true);
  const validators = new Map<string, ReturnType<AjvInstance["compile"]>>();
  const paramValidators = new WeakMap<Json, ReturnType<AjvInstance["compile"]>>();
  /** One compiled validator per parameter, wrapped in an object so coercion can rewrite the value. */
  const parameterValidator = (parameter: Json) => {
    let validate = paramValidators.get(parameter);
    if (!validate) {
      validate = paramsAjv.compile({
        type: "object",
        properties: { value: (parameter.schema as Json) ?? {} },
      });
      paramValidators.set(parameter, validate);
    }
    return validate;
  };

  const deref = (node: Json): Json => {
    const ref = node.$ref;
    if (typeof ref !== "string") return node;
    return ref
      .slice(2)
      .split("/")
      .reduce<Json>((at, key) => at[key] as Json, document);
  };

  const validatorFor = (ref: string) => {
    let validate = validators.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: `${SPEC_ID}${ref}` });
      validators.set(ref, validate);
    }
    return validate;
  };

  const validateRef = (ref: string, data: unknown, where: string): string[] => {
    const validate = validatorFor(ref);
    return validate(data) ? [] : formatErrors(ajv, validate.errors, where);
  };

  const paths = Object.entries(document.paths as Record<string, Json>).map(([template, item]) => {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{([^}]+)\\?\}/g, (_, name: string) => {
        names.push(name);
        return "([^/]+)";
      })}$`,
    );
    const literal = template.split("/").filter((s) => s && !s.startsWith("{")).length;
    return { template, item, pattern, names, literal };
  });

  function findOperation(method: string, path: string): OperationMatch | undefined {
    const candidates = paths
      .map((p) => ({ p, m: p.pattern.exec(path) }))
      .filter((c) => c.m !== null)
      .sort((a, b) => b.p.literal - a.p.literal);
    for (const { p, m } of candidates) {
      const operation = p.item[method.toLowerCase()] as Json | undefined;
      if (!operation) continue;
      const pathParams = Object.fromEntries(p.names.map((name, i) => [name, m?.[i + 1] ?? ""]));
      const parameters = [
        ...((p.item.parameters as Json[]) ?? []),
        ...((operation.parameters as Json[]) ?? []),
      ].map(deref);
      return {
        template: p.template,
        method: method.toUpperCase(),
        operationId: String(operation.operationId),
        operation,
        pathParams,
        parameters,
      };
    }
    return undefined;
  }

  const successMediaTypes = (operation: Json): string[] =>
    Object.entries(operation.responses as Record<string, Json>)
      .filter(([status]) => status.startsWith("2"))
      .flatMap(([, response]) => Object.keys((deref(response).content as Json) ?? {}));

  function versionsOf(operationId: string): string[] {
    for (const { item } of paths) {
      for (const operation of Object.values(item) as Json[]) {
        if (operation?.operationId === operationId) {
          return successMediaTypes(operation).flatMap((t) => versionOf(t) ?? []);
        }
      }
    }
    return [];
  }

  const tokenPath = new URL(
    (
      (components.securitySchemes as Json).ServiceAccounts as {
        flows: { clientCredentials: { tokenUrl: string } };
      }
    ).flows.clientCredentials.tokenUrl,
  ).pathname;

  function checkRequest(request: ExchangeRequest): string[] {
    const label = `${request.method} ${request.path}`;
    if (request.path === tokenPath) {
      // The token endpoint is described by the security scheme, not by a path.
      const problems: string[] = [];
      if (request.method !== "POST") problems.push(`${label}: the token endpoint takes POST`);
      const grant = (request.body as Json | undefined)?.grant_type;
      if (grant !== "client_credentials") problems.push(`${label}: grant_type must be client_credentials`);
      const extra = Object.keys(request.query);
      if (extra.length > 0) problems.push(`${label}: unexpected query ${extra.join(", ")}`);
      return problems;
    }
    const match = findOperation(request.method, request.path);
    if (!match) return [`${label}: no such path and method in the spec`];
    const problems: string[] = [];
    const where = `${label} (${match.operationId})`;
    for (const parameter of match.parameters) {
      const name = String(parameter.name);
      const schema = parameter.schema as Json | undefined;
      if (parameter.in === "path") {
        const validate = parameterValidator(parameter);
        if (!validate({ value: match.pathParams[name] })) {
          problems.push(...formatErrors(paramsAjv, validate.errors, `${where} path ${name}`));
        }
      }
      if (parameter.in === "query") {
        const values = request.query[name];
        if (values === undefined) {
          if (parameter.required === true) problems.push(`${where}: missing required query ${name}`);
          continue;
        }
        const isArray = schema?.type === "array";
        if (!isArray && values.length > 1) problems.push(`${where}: query ${name} repeated`);
        const validate = parameterValidator(parameter);
        if (!validate({ value: isArray ? [...values] : values[0] })) {
          problems.push(...formatErrors(paramsAjv, validate.errors, `${where} query ${name}`));
        }
      }
    }
    const declared = new Set(match.parameters.filter((p) => p.in === "query").map((p) => String(p.name)));
    for (const key of Object.keys(request.query)) {
      if (!declared.has(key)) problems.push(`${where}: query ${key} is not declared`);
    }
    const accepted = successMediaTypes(match.operation);
    const acceptTypes = (request.accept ?? "").split(",").map(bareMediaType).filter(Boolean);
    if (!acceptTypes.some((t) => accepted.includes(t))) {
      problems.push(`${where}: Accept ${request.accept ?? "(none)"} is not one of ${accepted.join(", ")}`);
    }
    const requestBody = match.operation.requestBody ? deref(match.operation.requestBody as Json) : undefined;
    if (request.body !== undefined) {
      if (!requestBody) {
        problems.push(`${where}: sends a body, the operation takes none`);
      } else {
        const type = bareMediaType(request.contentType);
        const media = (requestBody.content as Record<string, Json>)[type];
        if (!media) problems.push(`${where}: request Content-Type ${request.contentType} is not declared`);
        const ref = (media?.schema as Json | undefined)?.$ref;
        if (typeof ref === "string")
          problems.push(...validateRef(ref, request.body, `${where} request body`));
        if (versionOf(type) !== versionOf(acceptTypes.find((t) => accepted.includes(t)))) {
          problems.push(`${where}: body version ${type} differs from the Accept version`);
        }
      }
    } else if (requestBody?.required === true) {
      problems.push(`${where}: the operation requires a body`);
    }
    return problems;
  }

  function checkResponse(response: ExchangeResponse): string[] {
    const label = `${response.method} ${response.path} → ${response.status}`;
    const match = findOperation(response.method, response.path);
    if (response.path === tokenPath) return [];
    if (!match) return [`${label}: no such path and method in the spec`];
    const where = `${label} (${match.operationId})`;
    const declared = (match.operation.responses as Record<string, Json>)[String(response.status)];
    const type = bareMediaType(response.contentType);
    if (!declared) {
      // 400 and 406 are not declared on every operation, yet Atlas answers them with its ApiError body.
      if (response.status >= 400)
        return validateRef(`${SCHEMA_REF}ApiError`, response.body, `${where} (undeclared status)`);
      return [`${where}: status not declared`];
    }
    const content = (deref(declared).content as Record<string, Json> | undefined) ?? {};
    const media = content[type];
    if (!media)
      return [`${where}: media type ${type || "(none)"} not declared (${Object.keys(content).join(", ")})`];
    const ref = (media.schema as Json | undefined)?.$ref;
    return typeof ref === "string" ? validateRef(ref, response.body, where) : [];
  }

  return {
    document,
    findOperation,
    versionsOf,
    checkRequest,
    checkResponse,
    validateSchema: (name, data) => validateRef(`${SCHEMA_REF}${name}`, data, name),
  };
}
