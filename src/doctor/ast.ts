/**
 * The parser and a small walker. Babel parses every file once (TypeScript, JSX, ESM and CommonJS,
 * `sourceType: "unambiguous"`); the walker visits expression and statement nodes and skips type
 * annotations, which never open a connection. Nodes are kept loosely typed: doctor reads a few
 * fields of a few node types, and a full type library would add more weight than safety.
 */
import { type ParserPlugin, parse } from "@babel/parser";

export interface Node {
  type: string;
  start: number;
  end: number;
  loc: { start: { line: number; column: number } };
  // biome-ignore lint/suspicious/noExplicitAny: AST fields are read by name after a type check.
  [key: string]: any;
}

export type Parsed =
  | { ok: true; program: Node }
  | { ok: false; line: number; column: number; message: string };

/** Parses one file; a syntax error is a value (with its 1-based position), never a throw. */
export function parseSource(code: string, file: string): Parsed {
  // `<T>value` casts in .ts files read as JSX with the jsx plugin on, so .ts/.mts/.cts go without it.
  // NestJS-style decorators parse too (TypeScript's experimentalDecorators shape).
  const plugins: ParserPlugin[] = /\.[cm]?ts$/.test(file)
    ? ["typescript", "decorators-legacy"]
    : /\.tsx$/.test(file)
      ? ["typescript", "jsx", "decorators-legacy"]
      : ["jsx"];
  try {
    const ast = parse(code, { sourceType: "unambiguous", plugins, errorRecovery: false });
    return { ok: true, program: ast.program as unknown as Node };
  } catch (error) {
    const e = error as { loc?: { line: number; column: number }; message?: string };
    return {
      ok: false,
      line: e.loc?.line ?? 1,
      column: (e.loc?.column ?? 0) + 1,
      message: String(e.message ?? error)
        .replace(/\s*\(\d+:\d+\)$/, "")
        .replace(/\.$/, ""),
    };
  }
}

const SKIP_KEYS = new Set([
  "loc",
  "start",
  "end",
  "extra",
  "leadingComments",
  "trailingComments",
  "innerComments",
  "typeAnnotation",
  "returnType",
  "typeParameters",
  "typeArguments",
  "superTypeParameters",
  "implements",
]);
/** TypeScript nodes that wrap a value expression; every other TS* node is a type and is skipped. */
const TS_VALUE = new Set([
  "TSAsExpression",
  "TSSatisfiesExpression",
  "TSNonNullExpression",
  "TSTypeAssertion",
  "TSInstantiationExpression",
  "TSExportAssignment",
  "TSParameterProperty",
]);

export function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && typeof (value as Node).type === "string";
}

/**
 * Depth-first walk. `enter` sees each node with its ancestors (outermost first); returning false
 * skips the node's children.
 */
export function walk(
  root: Node,
  enter: (node: Node, ancestors: readonly Node[]) => boolean | undefined,
): void {
  const ancestors: Node[] = [];
  const visit = (node: Node) => {
    if (node.type.startsWith("TS") && !TS_VALUE.has(node.type)) return;
    if (enter(node, ancestors) === false) return;
    ancestors.push(node);
    for (const key in node) {
      if (SKIP_KEYS.has(key)) continue;
      const value = node[key];
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) visit(item);
      } else if (isNode(value)) visit(value);
    }
    ancestors.pop();
  };
  visit(root);
}

export function isFunction(node: Node): boolean {
  return (
    node.type === "FunctionDeclaration" ||
    node.type === "FunctionExpression" ||
    node.type === "ArrowFunctionExpression" ||
    node.type === "ObjectMethod" ||
    node.type === "ClassMethod" ||
    node.type === "ClassPrivateMethod"
  );
}

/** The expression inside parentheses, TypeScript casts and non-null assertions. */
export function unwrap(node: Node | null | undefined): Node | null {
  let n = node ?? null;
  while (n && (TS_VALUE.has(n.type) || n.type === "ParenthesizedExpression") && n.expression)
    n = n.expression;
  return n;
}

/** The name of a non-computed property key or member property, else null. */
export function keyName(node: Node | null | undefined, computed = false): string | null {
  if (!node) return null;
  if (node.type === "Identifier" && !computed) return node.name;
  if (node.type === "StringLiteral") return node.value;
  return null;
}

/** `a.b` → ["a", "b"]; null when the chain holds anything but identifiers and names. */
export function memberPath(node: Node | null): string[] | null {
  const n = unwrap(node);
  if (!n) return null;
  if (n.type === "Identifier") return [n.name];
  if (n.type === "ThisExpression") return ["this"];
  if (n.type === "MemberExpression" || n.type === "OptionalMemberExpression") {
    const head = memberPath(n.object);
    const name = keyName(n.property, n.computed);
    return head && name !== null ? [...head, name] : null;
  }
  return null;
}

/** The string a literal or an expression-free template holds, else null. */
export function stringValue(node: Node | null | undefined): string | null {
  const n = unwrap(node);
  if (!n) return null;
  if (n.type === "StringLiteral") return n.value;
  if (n.type === "TemplateLiteral") return n.quasis.map((q: Node) => q.value.cooked ?? "").join("");
  return null;
}

/** `require("x")` → "x". */
export function requireSource(node: Node | null | undefined): string | null {
  const n = unwrap(node);
  if (n?.type !== "CallExpression" || n.callee.type !== "Identifier" || n.callee.name !== "require")
    return null;
  return n.arguments.length === 1 ? stringValue(n.arguments[0]) : null;
}

/** Names a binding pattern declares (`a`, `{ a, b: c }`, `[d, ...e]`). */
export function patternNames(node: Node | null | undefined, into: string[] = []): string[] {
  if (!node) return into;
  switch (node.type) {
    case "Identifier":
      into.push(node.name);
      break;
    case "ObjectPattern":
      for (const p of node.properties) patternNames(p.type === "RestElement" ? p.argument : p.value, into);
      break;
    case "ArrayPattern":
      for (const e of node.elements) patternNames(e, into);
      break;
    case "AssignmentPattern":
      patternNames(node.left, into);
      break;
    case "RestElement":
      patternNames(node.argument, into);
      break;
    case "TSParameterProperty":
      patternNames(node.parameter, into);
      break;
  }
  return into;
}
