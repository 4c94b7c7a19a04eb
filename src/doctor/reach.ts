/**
 * Which code runs per call. Starting from the entry points each file declares (handlers, server
 * actions, middleware, route registrations), follows every top-level name they use, within the file
 * and across imports and re-exports (ESM and CommonJS), and marks each top-level chunk it reaches
 * with the entry that first reached it. Each chunk is visited once: linear in the size of the app.
 */
import { type App, resolveSpecifier } from "./app.ts";
import type { ImportBinding, ModuleFacts } from "./module-facts.ts";

/** For each file, the chunks that run per call and the entry that reaches each. */
export type Reach = Map<string, Map<number, string>>;

interface Target {
  file: string;
  chunk: number;
}

/** Resolves what `name` exported from `file` is: a chunk somewhere in the app, or null (a package). */
export function resolveExport(app: App, file: string, name: string, seen = new Set<string>()): Target | null {
  const key = `${file}\0${name}`;
  if (seen.has(key)) return null;
  seen.add(key);
  const m = app.modules.get(file);
  if (!m) return null;
  const target = m.exports.get(name === "*" ? "default" : name);
  if (target) {
    if ("chunk" in target) return { file, chunk: target.chunk };
    if ("local" in target) return resolveLocal(app, m, target.local, seen);
    return resolveBinding(app, file, target, seen);
  }
  for (const source of m.starExports) {
    const next = resolveSpecifier(app, file, source);
    const found = next ? resolveExport(app, next, name, seen) : null;
    if (found) return found;
  }
  return null;
}

function resolveLocal(app: App, m: ModuleFacts, name: string, seen: Set<string>): Target | null {
  const chunk = m.topLevel.get(name);
  if (chunk !== undefined) return { file: m.file, chunk };
  const binding = m.imports.get(name);
  return binding ? resolveBinding(app, m.file, binding, seen) : null;
}

function resolveBinding(app: App, from: string, b: ImportBinding, seen: Set<string>): Target | null {
  const file = resolveSpecifier(app, from, b.source);
  return file ? resolveExport(app, file, b.name, seen) : null;
}

/** `ns.prop` where `ns` is a namespace or default import: the export `prop`, else the default. */
function resolveMember(app: App, m: ModuleFacts, object: string, prop: string): Target | null {
  const b = m.imports.get(object);
  if (!b || (b.name !== "*" && b.name !== "default")) return null;
  const file = resolveSpecifier(app, m.file, b.source);
  if (!file) return null;
  return resolveExport(app, file, prop) ?? resolveExport(app, file, "default");
}

/** Walks from every entry point of the app; see the file header. */
export function computeReach(app: App): Reach {
  const reach: Reach = new Map();
  const queue: Array<Target & { via: string }> = [];
  const push = (t: Target | null, via: string) => {
    if (!t) return;
    let chunks = reach.get(t.file);
    if (!chunks) {
      chunks = new Map();
      reach.set(t.file, chunks);
    }
    if (chunks.has(t.chunk)) return;
    chunks.set(t.chunk, via);
    queue.push({ ...t, via });
  };
  const follow = (
    m: ModuleFacts,
    refs: Iterable<string>,
    members: Iterable<[string, string]>,
    via: string,
  ) => {
    for (const name of refs) push(resolveLocal(app, m, name, new Set()), via);
    for (const [object, prop] of members) push(resolveMember(app, m, object, prop), via);
  };
  for (const m of app.modules.values()) {
    for (const chunk of m.entryChunks) push({ file: m.file, chunk }, m.file);
    follow(m, m.entryRefs, m.entryMembers, m.file);
  }
  while (queue.length > 0) {
    const { file, chunk, via } = queue.pop()!;
    const m = app.modules.get(file)!;
    const c = m.chunks[chunk]!;
    follow(m, c.refs, c.members, via);
  }
  return reach;
}
