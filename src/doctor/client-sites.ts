/**
 * One place that creates a client, judged in its own function: does it run per call, is the client
 * kept in a module-level or `globalThis` cache behind a check, is it closed (in a `finally`, for per
 * call code), and which pool options does it set. The analysis follows the created value through
 * local variables (`const c = new MongoClient(); cached = c`), not through other functions.
 */
import {
  isFunction,
  keyName,
  memberPath,
  type Node,
  patternNames,
  stringValue,
  unwrap,
  walk,
} from "./ast.ts";
import type { ClientSite, ModuleFacts } from "./module-facts.ts";
import type { Reach } from "./reach.ts";

export const POOL_OPTIONS = ["maxPoolSize", "maxIdleTimeMS", "appName"] as const;

export interface SiteAnalysis {
  site: ClientSite;
  module: ModuleFacts;
  /** The file whose entry point reaches this code per call, or null when it runs once. */
  perCall: string | null;
  cached: boolean;
  closed: boolean;
  closedInFinally: boolean;
  /** Pool options set in code or the connection string; null when they cannot be read statically. */
  options: Set<string> | null;
  /** The environment variable holding the connection string, when the code names one. */
  envName: string | null;
  /** Local names the created client is held in. */
  holders: Set<string>;
  /** The outermost function around the site, or the program for module-level code. */
  scope: Node;
}

const PASS_THROUGH = new Set([
  "AwaitExpression",
  "CallExpression",
  "MemberExpression",
  "OptionalMemberExpression",
  "OptionalCallExpression",
  "TSAsExpression",
  "TSSatisfiesExpression",
  "TSNonNullExpression",
  "TSTypeAssertion",
  "ParenthesizedExpression",
  "ConditionalExpression",
  "LogicalExpression",
  "SequenceExpression",
  "ObjectExpression",
  "ObjectProperty",
  "ArrayExpression",
  "SpreadElement",
]);
const GLOBALS = new Set(["global", "globalThis", "window", "self"]);

/** Analyses one creation site (see the file header). */
export function analyseSite(module: ModuleFacts, site: ClientSite, reach: Reach): SiteAnalysis {
  const fns = site.ancestors.filter(isFunction);
  const owner = fns[0] ?? module.program;
  const inFunction = fns.length > 0;
  const reached = reach.get(module.file)?.get(site.chunk);
  const perCall =
    inFunction && (reached !== undefined || fns.some((f) => module.entryFns.has(f)))
      ? (reached ?? module.file)
      : null;

  const locals = new Set<string>();
  const globalAliases = new Set<string>();
  if (inFunction)
    walk(owner, (node) => {
      if (isFunction(node)) for (const p of node.params ?? []) for (const n of patternNames(p)) locals.add(n);
      if (node.type === "VariableDeclarator") {
        for (const n of patternNames(node.id)) locals.add(n);
        const init = unwrap(node.init);
        if (node.id.type === "Identifier" && init?.type === "Identifier" && GLOBALS.has(init.name))
          globalAliases.add(node.id.name);
      }
      return true;
    });
  const isCacheTarget = (left: Node): boolean => {
    let root: Node | null = unwrap(left);
    while (root && (root.type === "MemberExpression" || root.type === "OptionalMemberExpression"))
      root = unwrap(root.object);
    if (!root) return false;
    if (root.type === "ThisExpression") return true;
    if (root.type !== "Identifier") return false;
    return GLOBALS.has(root.name) || globalAliases.has(root.name) || !locals.has(root.name);
  };

  // Where the created value goes first.
  const holders = new Set<string>();
  let cached = false;
  let child: Node = site.node;
  for (let i = site.ancestors.length - 1; i >= 0; i--) {
    const parent = site.ancestors[i]!;
    if (PASS_THROUGH.has(parent.type)) {
      child = parent;
      continue;
    }
    if (parent.type === "VariableDeclarator" && parent.init === child)
      for (const n of patternNames(parent.id)) holders.add(n);
    if (parent.type === "AssignmentExpression" && parent.right === child) {
      if (inFunction && isCacheTarget(parent.left)) cached = true;
      else if (parent.left.type === "Identifier") holders.add(parent.left.name);
    }
    break;
  }
  const scope = inFunction ? owner : module.program;
  // Follow the value through local names: `const db = client.db()`, `cached = client`, … Each round
  // is one walk; a name found in a round is followed in the next.
  for (let round = 0; round < 3; round++) {
    const before = holders.size;
    walk(scope, (node, ancestors) => {
      if (node.type !== "Identifier" || !holders.has(node.name)) return true;
      let child: Node = node;
      for (let i = ancestors.length - 1; i >= 0; i--) {
        const a = ancestors[i]!;
        if (isFunction(a)) break;
        if (a.type === "VariableDeclarator" && a.init === child && a.id.type === "Identifier")
          holders.add(a.id.name);
        if (a.type === "AssignmentExpression" && a.right === child) {
          if (inFunction && isCacheTarget(a.left)) cached = true;
          else if (a.left.type === "Identifier") holders.add(a.left.name);
        }
        child = a;
      }
      return true;
    });
    if (holders.size === before) break;
  }
  if (cached && !isGuarded(site, owner)) cached = false;

  const closes = findCloses(scope, holders, site.kind.startsWith("mongoose"));
  const args = site.node.arguments as Node[];
  const options = readOptions(module, scope, args[0], args[1]);
  return {
    site,
    module,
    perCall,
    cached,
    closed: closes.any,
    closedInFinally: closes.inFinally,
    options,
    envName: envName(module, scope, args[0]),
    holders,
    scope,
  };
}

/** A cache only helps behind a check: `if (!cached)`, `??=`, `a ?? (a = …)`, or an early return. */
function isGuarded(site: ClientSite, owner: Node): boolean {
  const start = site.ancestors.indexOf(owner);
  for (const a of site.ancestors.slice(start + 1)) {
    if (a.type === "IfStatement" || a.type === "ConditionalExpression" || a.type === "LogicalExpression")
      return true;
    if (a.type === "AssignmentExpression" && (a.operator === "??=" || a.operator === "||=")) return true;
  }
  let early = false;
  const body = owner.body;
  if (body?.type === "BlockStatement")
    for (const s of body.body as Node[]) {
      if (s.start >= site.node.start) break;
      if (s.type === "IfStatement")
        walk(s.consequent, (n) => {
          if (n.type === "ReturnStatement") early = true;
          return !early && !isFunction(n);
        });
    }
  return early;
}

function findCloses(
  scope: Node,
  holders: Set<string>,
  mongoose: boolean,
): { any: boolean; inFinally: boolean } {
  const result = { any: false, inFinally: false };
  walk(scope, (node, ancestors) => {
    if (node.type !== "CallExpression") return true;
    const path = memberPath(unwrap(node.callee));
    if (!path || path.length < 2) return true;
    const method = path.at(-1)!;
    const closesHolder =
      (method === "close" || method === "disconnect") && path.length === 2 && holders.has(path[0]!);
    const closesMongoose =
      mongoose && path[0] === "mongoose" && (method === "disconnect" || method === "close");
    if (!closesHolder && !closesMongoose) return true;
    // A close in a shutdown hook (`process.on("SIGTERM", …)`) belongs to a long-running server,
    // not to a one-off script.
    const inListener = ancestors.some(
      (a) =>
        a.type === "CallExpression" &&
        ["on", "once", "addListener"].includes(keyName(unwrap(a.callee)?.property) ?? ""),
    );
    if (inListener) return true;
    result.any = true;
    for (let i = 0; i < ancestors.length; i++) {
      const a = ancestors[i]!;
      const next = ancestors[i + 1] ?? node;
      if (a.type === "TryStatement" && a.finalizer === next) result.inFinally = true;
      if (
        a.type === "CallExpression" &&
        keyName(unwrap(a.callee)?.property) === "finally" &&
        a.arguments.includes(next)
      )
        result.inFinally = true;
    }
    return true;
  });
  return result;
}

/** Resolves an identifier to the value it was declared with, in the function or at the top level. */
function resolveValue(
  module: ModuleFacts,
  scope: Node,
  node: Node | null | undefined,
  depth = 0,
): Node | null {
  const n = unwrap(node);
  if (n?.type !== "Identifier" || depth > 4) return n;
  let init: Node | null = null;
  if (scope !== module.program)
    walk(scope, (d) => {
      if (d.type === "VariableDeclarator" && d.id.type === "Identifier" && d.id.name === n.name)
        init = d.init;
      return init === null;
    });
  init ??= module.inits.get(n.name) ?? null;
  return init ? resolveValue(module, scope, init, depth + 1) : null;
}

function readOptions(
  module: ModuleFacts,
  scope: Node,
  uri: Node | undefined,
  options: Node | undefined,
): Set<string> | null {
  const found = new Set<string>();
  const text = stringValue(resolveValue(module, scope, uri));
  if (text) for (const o of POOL_OPTIONS) if (new RegExp(`[?&]${o}=`, "i").test(text)) found.add(o);
  if (options === undefined) return found;
  const addObject = (node: Node | null | undefined, depth: number): boolean => {
    const o = resolveValue(module, scope, node);
    if (o?.type !== "ObjectExpression" || depth > 4) return false;
    for (const p of o.properties as Node[]) {
      if (p.type === "SpreadElement") {
        if (!addObject(p.argument, depth + 1)) return false;
      } else {
        const key = keyName(p.key, p.computed);
        if (key) found.add(key);
      }
    }
    return true;
  };
  return addObject(options, 0) ? found : null;
}

/** `process.env.X` (also `X!`, `X as string`, `X ?? ""`), directly or through a declared name. */
function envName(module: ModuleFacts, scope: Node, uri: Node | undefined): string | null {
  let n = resolveValue(module, scope, uri);
  while (n?.type === "LogicalExpression") n = resolveValue(module, scope, n.left);
  const path = memberPath(n);
  return path?.length === 3 && path[0] === "process" && path[1] === "env" ? path[2]! : null;
}
