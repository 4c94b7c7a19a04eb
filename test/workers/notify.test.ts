/**
 * NOTIFY_WEBHOOK_URL's sync (src/notify/) on a ledger's real tables, against the fake receiver:
 * one POST per change of state, a signature that verifies, the Discord shape, an unknown outcome
 * never re-posted, and a 429 retried after its Retry-After. Driven directly (no alarm), with a clock.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { newIncidentId } from "../../src/incident/ids.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { createNotifyClient, DISCORD_MAX_CONTENT } from "../../src/notify/client.ts";
import { syncNotify } from "../../src/notify/sync.ts";
import { createConsoleLogger } from "../../src/observability/log.ts";
import { signWebhookBody } from "../../src/platforms/webhook.ts";

const GROUP = "e2e0000000000000000000aa";
type Recorded = { path: string; headers: Record<string, string>; body: string };

async function received(path: string): Promise<Recorded[]> {
  const response = await fetch(`${inject("notifyUrl")}/__control/requests?path=${path}`);
  return ((await response.json()) as { requests: Recorded[] }).requests;
}
const failNext = (fault: Record<string, unknown>) =>
  fetch(`${inject("notifyUrl")}/__control/fail-next`, { method: "POST", body: JSON.stringify(fault) });

async function withStore(
  name: string,
  fn: (store: LedgerStore, open: (cluster: string) => string, at: (s: number) => string) => Promise<void>,
) {
  await runInDurableObject(env.LEDGER.getByName(name), async (_instance: Ledger, state) => {
    const store = new LedgerStore(state.storage.sql, (f) => state.storage.transactionSync(f));
    store.migrate();
    const t0 = Date.now();
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    const open = (cluster: string) => {
      const id = newIncidentId(GROUP, new Date(t0));
      store.open({
        id,
        clusterKey: `name:${cluster}`,
        clusterName: cluster,
        mode: null,
        origin: "atlas",
        at: at(0),
        nextRunAt: t0,
      });
      return id;
    };
    await fn(store, open, at);
  });
}

const sync = (
  store: LedgerStore,
  path: string,
  nowS: number,
  format: "json" | "discord" = "json",
  timeoutMs?: number,
) =>
  syncNotify({
    groupId: GROUP,
    store,
    client: createNotifyClient({
      url: `${inject("notifyUrl")}${path}`,
      format,
      fetch: (i, init) => fetch(i, init),
      timeoutMs,
    }),
    publicUrl: "https://responder.example.com",
    percentOf: () => 86,
    log: createConsoleLogger(),
    now: () => new Date(Date.now() + nowS * 1000),
  });

describe("notifications", () => {
  it("posts once per change of state, signed with the URL as key", async () => {
    const path = "/n-json";
    await withStore("notify-json", async (store, open, at) => {
      const id = open("NotifyJson");
      store.journal(id, at(0), { step: "incident", status: "closed", detail: { reason: "noise" } });
      store.update(id, at(1), { phase: "decide" }); // no state change
      store.update(id, at(2), { state: "acting" });
      store.update(id, at(3), { state: "acting" }); // the same state again
      await sync(store, path, 5);
      store.update(id, at(4), { state: "resolved" });
      await sync(store, path, 6);
      await sync(store, path, 7);
      const posts = await received(path);
      const bodies = posts.map((p) => JSON.parse(p.body) as Record<string, unknown>);
      expect(bodies.map((b) => [b.previousState, b.state])).toEqual([
        [null, "open"],
        ["open", "acting"],
        ["acting", "resolved"],
      ]);
      expect(bodies[2]).toMatchObject({
        incident: id,
        cluster: { groupId: GROUP, name: "NotifyJson" },
        url: `https://responder.example.com/ui/incidents/${id}`,
      });
      const post = posts[2]!;
      const ts = Number(post.headers["x-atlas-responder-timestamp"]);
      const expected = await signWebhookBody(post.body, ts, `${inject("notifyUrl")}${path}`);
      expect(post.headers["x-atlas-responder-signature"]).toBe(expected);
      expect(await signWebhookBody(post.body, ts, "another key")).not.toBe(expected);
    });
  });

  it("Discord: a content message, mentions off, names escaped, at most 2000 characters", async () => {
    const path = "/n-discord";
    await withStore("notify-discord", async (store, open) => {
      open(`[click](https://evil.example) @everyone <@123> **x** ${"y".repeat(3000)}`);
      await sync(store, path, 1, "discord");
      const [post] = await received(path);
      const body = JSON.parse(post!.body) as { content: string; allowed_mentions: unknown };
      expect(Object.keys(body).sort()).toEqual(["allowed_mentions", "content"]);
      expect(body.allowed_mentions).toEqual({ parse: [] });
      expect(body.content.length).toBeLessThanOrEqual(DISCORD_MAX_CONTENT);
      expect(body.content).not.toContain("[click](");
      expect(body.content).not.toContain("@everyone");
      expect(body.content).not.toContain("<@123>");
      expect(body.content).toContain("\\[click\\]");
    });
  });

  it("an unknown outcome is never posted again; a 429 is retried after Retry-After", async () => {
    await withStore("notify-faults", async (store, open) => {
      await failNext({ path: "/n-500", status: 500 });
      const id = open("NotifyUnknown");
      await sync(store, "/n-500", 1);
      await sync(store, "/n-500", 120);
      expect(await received("/n-500")).toHaveLength(1);
      expect(store.entries(id).map((e) => `${e.step}:${e.status}`)).toContain("notify:unknown");

      await failNext({ path: "/n-hang", hang: true });
      open("NotifyHang");
      await sync(store, "/n-hang", 1, "json", 300);
      await sync(store, "/n-hang", 120, "json", 300);
      expect(await received("/n-hang")).toHaveLength(1);

      await failNext({ path: "/n-429", status: 429, retryAfter: "30" });
      open("NotifyLimited");
      await sync(store, "/n-429", 1);
      await sync(store, "/n-429", 20); // before Retry-After: nothing
      expect(await received("/n-429")).toHaveLength(1);
      await sync(store, "/n-429", 40);
      const posts = await received("/n-429");
      expect(posts).toHaveLength(2);
      expect(posts[1]!.body).toBe(posts[0]!.body); // the same notification
    });
  });
});
