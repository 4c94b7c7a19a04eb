/**
 * What one parsed file says, gathered in one walk: its imports and exports (ESM and CommonJS), its
 * top-level chunks (each declaration or statement) with the top-level names each refers to, the
 * code that runs per call (route handlers, API handlers, server actions, middleware, Lambda
 * handlers), every place that creates a MongoDB client or a mongoose connection, and libraries
 * handed a connection string. Cross-file questions are answered later over these facts, so no
 * file is parsed or walked twice.
 */
import {
  isFunction,
  keyName,
  memberPath,
  type Node,
  patternNames,
  requireSource,
  stringValue,
  unwrap,
  walk,
} from "./ast.ts";
import { entryExportNames } from "./roles.ts";

export interface ImportBinding {
  source: string;
  /** "default", "*" (namespace or a whole `require`), or the imported name. */
  name: string;
}
export type ExportTarget = { local: string } | { chunk: number } | { source: string; name: string };

export interface Chunk {
  id: number;
  refs: Set<string>;
  members: Array<[string, string]>;
}

export type ClientKind = "new-client" | "client-connect" | "mongoose-connect" | "mongoose-connection";

export interface ClientSite {
  kind: ClientKind;
  node: Node;
  chunk: number;
  /** Ancestors inside the chunk, outermost first. */
  ancestors: Node[];
  /** Set when the client is built for a library (an auth adapter), which then owns its pool. */
  library: string | null;
}

export interface LibrarySite {
  library: "connect-mongo" | "connect-mongodb-session" | "agenda";
  /** The call or `new` expression. */
  node: Node;
  /** The property that carries the connection string. */
  property: Node;
}

export interface ModuleFacts {
  file: string;
  code: string;
  program: Node;
  esm: boolean;
  imports: Map<string, ImportBinding>;
  topLevel: Map<string, number>;
  inits: Map<string, Node>;
  chunks: Chunk[];
  exports: Map<string, ExportTarget>;
  starExports: string[];
  entryChunks: Set<number>;
  entryFns: Set<Node>;
  entryRefs: Set<string>;
  entryMembers: Array<[string, string]>;
  clients: ClientSite[];
  libraries: LibrarySite[];
  attachesPool: boolean;
  relativeSpecifiers: string[];
  identifiers: Set<string>;
}

const ROUTE_METHODS = new Set([
  "get",
  "post",
  "put",
  "patch",
  "delete",
  "del",
  "all",
  "use",
  "options",
  "head",
]);
const ADAPTERS = new Set(["MongoDBAdapter"]);
/** NestJS route, message and GraphQL resolver decorators: the method runs per request. */
const HANDLER_DECORATORS = new Set([
  "Get",
  "Post",
  "Put",
  "Patch",
  "Delete",
  "All",
  "Head",
  "Options",
  "MessagePattern",
  "EventPattern",
  "Query",
  "Mutation",
  "ResolveField",
]);

function isHandlerDecorator(decorator: Node): boolean {
  const e = unwrap(decorator.expression);
  const callee = e?.type === "CallExpression" ? unwrap(e.callee) : e;
  return callee?.type === "Identifier" && HANDLER_DECORATORS.has(callee.name);
}

/** Gathers the facts of one parsed file; `file` is relative to the scanned root, with `/`. */
export function moduleFacts(file: string, code: string, program: Node): ModuleFacts {
  const m: ModuleFacts = {
    file,
    code,
    program,
    esm: program.sourceType === "module",
    imports: new Map(),
    topLevel: new Map(),
    inits: new Map(),
    chunks: [],
    exports: new Map(),
    starExports: [],
    entryChunks: new Set(),
    entryFns: new Set(),
    entryRefs: new Set(),
    entryMembers: [],
    clients: [],
    libraries: [],
    attachesPool: false,
    relativeSpecifiers: [],
    identifiers: new Set(),
  };
  const nodes: Node[] = [];
  const addChunk = (node: Node, names: string[]) => {
    const id = m.chunks.length;
    m.chunks.push({ id, refs: new Set(), members: [] });
    nodes.push(node);
    for (const name of names) m.topLevel.set(name, id);
    return id;
  };
  for (const statement of program.body as Node[]) collectTopLevel(m, statement, addChunk);
  const names = bindingNames(m);
  for (const chunk of m.chunks) walkChunk(m, chunk, nodes[chunk.id]!, names);
  for (const fn of m.entryFns) collectRefs(fn, m.entryRefs, m.entryMembers);
  const useServer = (program.directives ?? []).some((d: Node) => d.value.value === "use server");
  const entryNames = useServer ? [...m.exports.keys()] : entryExportNames(file);
  for (const name of entryNames) markEntryExport(m, name);
  // Only files that create a client are read again (by the site analysis and the patch): the
  // syntax trees of the others are let go, so a large app is held in memory as facts, not trees.
  if (m.clients.length === 0 && m.libraries.length === 0) {
    m.program = { type: "Program", start: 0, end: 0, loc: program.loc, body: [], directives: [] };
    m.entryFns.clear();
  }
  return m;
}

function importSource(m: ModuleFacts, source: string) {
  if (source.startsWith(".")) m.relativeSpecifiers.push(source);
}

function collectTopLevel(m: ModuleFacts, s: Node, addChunk: (node: Node, names: string[]) => number): void {
  switch (s.type) {
    case "ImportDeclaration": {
      if (s.importKind === "type") return;
      importSource(m, s.source.value);
      for (const spec of s.specifiers as Node[]) {
        if (spec.importKind === "type") continue;
        const name =
          spec.type === "ImportDefaultSpecifier"
            ? "default"
            : spec.type === "ImportNamespaceSpecifier"
              ? "*"
              : (keyName(spec.imported) ?? "default");
        m.imports.set(spec.local.name, { source: s.source.value, name });
      }
      return;
    }
    case "ExportNamedDeclaration": {
      if (s.exportKind === "type") return;
      if (s.declaration) {
        const before = new Set(m.topLevel.keys());
        collectTopLevel(m, s.declaration, addChunk);
        for (const [name] of m.topLevel) if (!before.has(name)) m.exports.set(name, { local: name });
        return;
      }
      if (s.source) importSource(m, s.source.value);
      for (const spec of s.specifiers as Node[]) {
        const exported = keyName(spec.exported) ?? "default";
        if (s.source) {
          const name = spec.type === "ExportNamespaceSpecifier" ? "*" : (keyName(spec.local) ?? "default");
          m.exports.set(exported, { source: s.source.value, name });
        } else m.exports.set(exported, { local: spec.local.name });
      }
      return;
    }
    case "ExportAllDeclaration":
      importSource(m, s.source.value);
      m.starExports.push(s.source.value);
      return;
    case "ExportDefaultDeclaration": {
      const d = s.declaration;
      if (d.type === "Identifier") m.exports.set("default", { local: d.name });
      else m.exports.set("default", { chunk: addChunk(d, d.id?.name ? [d.id.name] : []) });
      return;
    }
    case "FunctionDeclaration":
    case "ClassDeclaration":
      if (s.declare) return;
      addChunk(s, s.id ? [s.id.name] : []);
      return;
    case "VariableDeclaration":
      if (s.declare) return;
      for (const d of s.declarations as Node[]) {
        const names = patternNames(d.id);
        if (d.init && recordRequire(m, d)) continue;
        if (d.id.type === "Identifier" && d.init) m.inits.set(d.id.name, d.init);
        addChunk(d, names);
      }
      return;
    case "ExpressionStatement": {
      const id = addChunk(s, []);
      recordCommonJsExport(m, s.expression, id);
      return;
    }
    default:
      if (s.type.startsWith("TS") || s.type === "EmptyStatement") return;
      addChunk(s, []);
  }
}

/** `const x = require("s")`, `const { a, b: c } = require("s")`, `const x = require("s").y`. */
function recordRequire(m: ModuleFacts, d: Node): boolean {
  const init = unwrap(d.init);
  let source = requireSource(init);
  let member: string | null = null;
  if (!source && init?.type === "MemberExpression") {
    source = requireSource(init.object);
    member = keyName(init.property, init.computed);
    if (source && !member) return false;
  }
  if (!source) return false;
  importSource(m, source);
  if (d.id.type === "Identifier") m.imports.set(d.id.name, { source, name: member ?? "*" });
  else if (d.id.type === "ObjectPattern" && !member) {
    for (const p of d.id.properties as Node[]) {
      if (p.type !== "ObjectProperty" || p.value.type !== "Identifier") continue;
      m.imports.set(p.value.name, { source, name: keyName(p.key, p.computed) ?? "*" });
    }
  } else return false;
  return true;
}

/** `module.exports = …`, `module.exports.x = …`, `exports.x = …`. */
function recordCommonJsExport(m: ModuleFacts, expression: Node, chunk: number): void {
  const e = unwrap(expression);
  if (e?.type !== "AssignmentExpression" || e.operator !== "=") return;
  const path = memberPath(e.left);
  if (!path) return;
  const name =
    path.length === 2 && path[0] === "module" && path[1] === "exports"
      ? "default"
      : path.length === 3 && path[0] === "module" && path[1] === "exports"
        ? path[2]!
        : path.length === 2 && path[0] === "exports"
          ? path[1]!
          : null;
  if (!name) return;
  const right = unwrap(e.right);
  m.exports.set(name, right?.type === "Identifier" ? { local: right.name } : { chunk });
  if (name === "default" && right?.type === "ObjectExpression") {
    for (const p of right.properties as Node[]) {
      const key = keyName(p.key, p.computed);
      if (!key || p.type === "SpreadElement") continue;
      const value = p.type === "ObjectProperty" ? unwrap(p.value) : null;
      m.exports.set(key, value?.type === "Identifier" ? { local: value.name } : { chunk });
    }
  }
}

function markEntryExport(m: ModuleFacts, name: string): void {
  const target = m.exports.get(name);
  if (!target) return;
  if ("chunk" in target) m.entryChunks.add(target.chunk);
  else if ("local" in target) {
    const chunk = m.topLevel.get(target.local);
    if (chunk !== undefined) m.entryChunks.add(chunk);
    else m.entryRefs.add(target.local);
  }
}

interface Names {
  mongoClient: Set<string>;
  mongoose: Set<string>;
  mongooseConnect: Set<string>;
  mongooseCreate: Set<string>;
  stores: Set<string>;
}

function bindingNames(m: ModuleFacts): Names {
  const n: Names = {
    mongoClient: new Set(["MongoClient"]),
    mongoose: new Set(["mongoose"]),
    mongooseConnect: new Set(),
    mongooseCreate: new Set(),
    stores: new Set(["MongoStore", "MongoDBStore"]),
  };
  for (const [local, b] of m.imports) {
    if (b.source === "mongodb" && b.name === "MongoClient") n.mongoClient.add(local);
    if (b.source === "mongoose") {
      if (b.name === "default" || b.name === "*") n.mongoose.add(local);
      if (b.name === "connect") n.mongooseConnect.add(local);
      if (b.name === "createConnection") n.mongooseCreate.add(local);
    }
    if (b.source === "connect-mongo" || b.source === "connect-mongodb-session") n.stores.add(local);
  }
  return n;
}

function isRefPosition(node: Node, parent: Node | undefined): boolean {
  if (!parent) return true;
  if (
    (parent.type === "MemberExpression" || parent.type === "OptionalMemberExpression") &&
    parent.property === node
  )
    return parent.computed;
  if (
    (parent.type === "ObjectProperty" || parent.type === "ObjectMethod" || parent.type === "ClassMethod") &&
    parent.key === node
  )
    return parent.computed || parent.shorthand === true;
  return true;
}

function collectRefs(root: Node, refs: Set<string>, members: Array<[string, string]>): void {
  walk(root, (node, ancestors) => {
    if (node.type === "Identifier" && isRefPosition(node, ancestors.at(-1))) refs.add(node.name);
    else if (node.type === "MemberExpression" && node.object.type === "Identifier") {
      const prop = keyName(node.property, node.computed);
      if (prop) members.push([node.object.name, prop]);
    }
    return true;
  });
}

function walkChunk(m: ModuleFacts, chunk: Chunk, root: Node, names: Names): void {
  walk(root, (node, ancestors) => {
    switch (node.type) {
      case "Identifier":
        m.identifiers.add(node.name);
        if (isRefPosition(node, ancestors.at(-1))) chunk.refs.add(node.name);
        break;
      case "MemberExpression":
        if (node.object.type === "Identifier") {
          const prop = keyName(node.property, node.computed);
          if (prop) chunk.members.push([node.object.name, prop]);
        }
        break;
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
      case "ObjectMethod":
      case "ClassMethod":
        if ((node.body?.directives ?? []).some((d: Node) => d.value.value === "use server"))
          m.entryFns.add(node);
        if ((node.decorators ?? []).some(isHandlerDecorator)) m.entryFns.add(node);
        break;
      case "NewExpression":
      case "CallExpression":
        inspectCall(m, chunk, node, ancestors, names);
        break;
    }
    return true;
  });
}

function inspectCall(m: ModuleFacts, chunk: Chunk, node: Node, ancestors: readonly Node[], n: Names): void {
  const callee = unwrap(node.callee)!;
  const path = memberPath(callee);
  const last = path?.at(-1) ?? null;
  const head = path?.[0] ?? null;
  let kind: ClientKind | null = null;
  if (node.type === "NewExpression") {
    if (
      (path?.length === 1 && n.mongoClient.has(head!)) ||
      (path && path.length > 1 && last === "MongoClient")
    )
      kind = "new-client";
    else if (path && (n.stores.has(last!) || n.stores.has(head!))) storeOptions(m, node, node.arguments[0]);
    else if (last === "Agenda") agendaOptions(m, node);
  } else {
    if (path && path.length >= 2 && last === "connect" && path.at(-2) === "MongoClient")
      kind = "client-connect";
    else if (path?.length === 1 && n.mongooseConnect.has(head!)) kind = "mongoose-connect";
    else if (path?.length === 1 && n.mongooseCreate.has(head!)) kind = "mongoose-connection";
    else if (path?.length === 2 && n.mongoose.has(head!) && last === "connect") kind = "mongoose-connect";
    else if (path?.length === 2 && n.mongoose.has(head!) && last === "createConnection")
      kind = "mongoose-connection";
    else if (last === "attachDatabasePool" || last === "experimental_attachDatabasePool")
      m.attachesPool = true;
    else if (path?.length === 2 && n.stores.has(head!) && last === "create")
      storeOptions(m, node, node.arguments[0]);
    else if (last && ROUTE_METHODS.has(last) && callee.type === "MemberExpression")
      routeHandlers(m, node, last);
    else if (callee.type === "MemberExpression" && ROUTE_METHODS.has(keyName(callee.property) ?? "")) {
      const inner = unwrap(callee.object);
      if (inner?.type === "CallExpression" && keyName(unwrap(inner.callee)?.property) === "route")
        routeHandlers(m, node, "route");
    }
  }
  if (!kind) return;
  const adapter = ancestors.find(
    (a) => a.type === "CallExpression" && ADAPTERS.has(memberPath(unwrap(a.callee))?.at(-1) ?? ""),
  );
  m.clients.push({
    kind,
    node,
    chunk: chunk.id,
    ancestors: [...ancestors],
    library: adapter ? "@auth/mongodb-adapter" : null,
  });
}

/**
 * `app.get("/x", handler)`, `router.post("/y", auth, async (req, res) => …)`, `app.use(fn)`,
 * `app.route("/z").get(handler)`: every function argument runs per request.
 */
function routeHandlers(m: ModuleFacts, node: Node, method: string): void {
  const args = node.arguments as Node[];
  const first = unwrap(args[0]);
  const pathFirst = first && (stringValue(first) !== null || first.type === "RegExpLiteral");
  if (method !== "use" && method !== "route" && !pathFirst) return;
  for (const arg of pathFirst ? args.slice(1) : args) {
    const a = unwrap(arg);
    if (!a) continue;
    if (isFunction(a)) m.entryFns.add(a);
    else if (a.type === "Identifier") m.entryRefs.add(a.name);
    else if (a.type === "MemberExpression" && a.object.type === "Identifier") {
      const prop = keyName(a.property, a.computed);
      if (prop) m.entryMembers.push([a.object.name, prop]);
    }
  }
}

function objectProperty(object: Node | null, name: string): Node | null {
  if (object?.type !== "ObjectExpression") return null;
  return (
    (object.properties as Node[]).find(
      (p) => p.type === "ObjectProperty" && keyName(p.key, p.computed) === name,
    ) ?? null
  );
}

/** connect-mongo's `MongoStore.create({ mongoUrl })` (or `new MongoStore({ url })`), connect-mongodb-session's `{ uri }`. */
function storeOptions(m: ModuleFacts, node: Node, options: Node | undefined): void {
  const o = unwrap(options);
  for (const key of ["mongoUrl", "url", "uri"]) {
    const property = objectProperty(o, key);
    if (!property) continue;
    m.libraries.push({
      library: key === "uri" ? "connect-mongodb-session" : "connect-mongo",
      node,
      property,
    });
    return;
  }
}

/** Agenda's `new Agenda({ db: { address } })` opens its own client; `{ mongo: db }` reuses one. */
function agendaOptions(m: ModuleFacts, node: Node): void {
  const db = objectProperty(unwrap(node.arguments[0]), "db");
  const address = db && objectProperty(unwrap(db.value), "address");
  if (address) m.libraries.push({ library: "agenda", node, property: address });
}
