/**
 * The intake's ceiling on this runtime: the least a durable webhook intake can do, generated into a
 * temporary folder and run under the same `wrangler dev` — verify the HMAC-SHA1 signature, parse the
 * JSON, one Durable Object per project, one INSERT, 202. No Hono, no schema, no incident, no log line,
 * no alarm. Measured in the same run as the responder (`intake` part), against its own /healthz.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "smol-toml";
import { ROOT } from "./world.ts";

const SOURCE = `import { DurableObject } from "cloudflare:workers";

export class Stub extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, body TEXT NOT NULL)");
  }
  record(key, body) {
    const written = this.ctx.storage.sql.exec("INSERT OR IGNORE INTO deliveries VALUES (?, ?)", key, body).rowsWritten;
    return { status: written ? "accepted" : "duplicate" };
  }
}

let key;
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ ok: true });
    if (url.pathname !== "/webhooks/atlas" || request.method !== "POST") return new Response(null, { status: 404 });
    const body = new Uint8Array(await request.arrayBuffer());
    key ??= await crypto.subtle.importKey("raw", new TextEncoder().encode(env.ATLAS_WEBHOOK_SECRET), { name: "HMAC", hash: "SHA-1" }, false, ["verify"]);
    let signature;
    try {
      signature = Uint8Array.from(atob(request.headers.get("x-mms-signature") ?? ""), (c) => c.charCodeAt(0));
    } catch {
      return Response.json({ error: "invalid signature" }, { status: 401 });
    }
    if (!(await crypto.subtle.verify("HMAC", key, signature, body))) return Response.json({ error: "invalid signature" }, { status: 401 });
    const alert = JSON.parse(new TextDecoder().decode(body));
    const outcome = await env.STUB.getByName(String(alert.groupId)).record(alert.id + ":" + alert.status + ":" + alert.updated, JSON.stringify(alert));
    return Response.json(outcome, { status: 202 });
  },
};
`;

/** Writes the stub Worker; answers its wrangler.toml text and how to remove it. */
export function stubWorker(): { toml: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "atlas-responder-bench-stub-"));
  mkdirSync(path.join(dir, "src"));
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  writeFileSync(path.join(dir, "src", "index.js"), SOURCE);
  const repo = parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")) as Record<string, unknown>;
  const toml = stringify({
    name: "intake-stub",
    main: path.join(dir, "src", "index.js"),
    compatibility_date: repo.compatibility_date,
    compatibility_flags: repo.compatibility_flags ?? [],
    durable_objects: { bindings: [{ name: "STUB", class_name: "Stub" }] },
    migrations: [{ tag: "v1", new_sqlite_classes: ["Stub"] }],
  });
  return { toml, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
