/**
 * Everything an alert carries reaches the dashboard's pages only as inert text: through real alerts
 * (cluster name, replica set, host) and through a gateway that hands back hostile values in every
 * field the pages show (event and metric names, apps from byApp, sources, endpoints, advice, …).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/schema.ts";
import { createApp } from "../../src/http/app.ts";
import { newIncidentId } from "../../src/incident/ids.ts";
import type { ClusterOverview, Sample } from "../../src/incident/samples.ts";
import type { IncidentDetail, IncidentSummary } from "../../src/incident/view.ts";
import type { LedgerGateway } from "../../src/ledger/gateway.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { field, loginCookie, page } from "./dashboard-support.ts";
import { alertFor } from "./e2e-support.ts";
import { BASE, captureLogs } from "./support.ts";

captureLogs(["webhook.recorded", "dashboard.login"]);

const PAYLOADS = [
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(2)>",
  "javascript:alert(3)",
  '"><svg onload=alert(4)>',
  "'><svg onload=alert(5)>",
];

/** Every element the pages are made of. */
const ELEMENTS =
  `html head meta title link body header nav ul ol li a form input button main h1 h2 h3 p section
dl dt dd code span strong div label select option table caption thead tbody tr th td time figure figcaption
svg g line text rect polyline circle meter`.split(/\s+/);

/** No payload is live markup: no foreign element, handler or script link; the text is there, escaped. */
function expectInert(html: string, where: string) {
  expect(html, where).not.toMatch(/<script/i);
  expect(html, where).not.toMatch(/<img/i);
  expect(html, where).not.toMatch(/<svg onload/i);
  // Within real tags (escaped text has no "<"): only our elements, and no event-handler attribute.
  for (const tag of html.match(/<[a-z][^>]*>/gi) ?? []) {
    // Attribute values are quoted with `"`, which the renderer escapes inside them.
    expect(tag.replace(/"[^"]*"/g, '""'), where).not.toMatch(/\son[a-z]+\s*=/i);
    expect(ELEMENTS, `${where}: ${tag}`).toContain(/^<([a-z0-9]+)/i.exec(tag)![1]!.toLowerCase());
  }
  expect(html, where).not.toMatch(/href=["']?\s*javascript:/i);
  expect((html.match(/<svg/g) ?? []).length, where).toBe((html.match(/<svg viewBox=/g) ?? []).length);
}

describe("through real alerts", () => {
  const GROUP = "dd00000000000000000000a1";

  it("cluster name, replica set and host appear only escaped on every page", async () => {
    const ids: string[] = [];
    for (const [n, payload] of PAYLOADS.entries()) {
      ids.push((await alertFor(GROUP, `${payload}-c${n}`, 86)).incident);
      ids.push(
        (
          await alertFor(GROUP, `rs${n}`, 86, {
            clusterName: undefined,
            replicaSetName: `${payload}-rs${n}`,
            hostnameAndPort: undefined,
          })
        ).incident,
      );
      ids.push(
        (
          await alertFor(GROUP, `h${n}`, 86, {
            clusterName: undefined,
            replicaSetName: undefined,
            hostnameAndPort: `${payload}-host${n}:27017`,
          })
        ).incident,
      );
    }
    const cookie = await loginCookie();
    const paths = [
      "/",
      "/ui/incidents",
      ...PAYLOADS.map((p) => `/ui/incidents?cluster=${encodeURIComponent(`${p}-c0`)}`),
      `/ui/incidents?state=${encodeURIComponent(PAYLOADS[3]!)}`,
      `/login?next=${encodeURIComponent(PAYLOADS[3]!)}`,
      ...ids.map((id) => `/ui/incidents/${id}`),
    ];
    for (const path of paths) {
      const response = await page(path, { headers: { cookie } });
      expect([200, 303], path).toContain(response.status);
      expectInert(await response.text(), path);
    }
    const list = await (await page("/ui/incidents", { headers: { cookie } })).text();
    expect(list).toContain("&lt;script&gt;alert(1)&lt;/script&gt;-c0");
    expect(list).toContain("&lt;img src=x onerror=alert(2)&gt;-rs1");
    expect(list).toContain("&quot;&gt;&lt;svg onload=alert(4)&gt;-host3:27017");
  }, 30_000);
});

describe("through every field a page shows", () => {
  const GROUP = "dd00000000000000000000b2";
  const evil = (n: number) => PAYLOADS[n % PAYLOADS.length]!;
  const id = newIncidentId(GROUP, new Date());
  const now = new Date().toISOString();
  const summary: IncidentSummary = {
    id,
    cluster: { groupId: GROUP, name: evil(0) },
    state: "awaiting-approval",
    openedAt: now,
    updatedAt: now,
  };
  const reading = {
    tier: evil(1),
    current: 430,
    limit: 500,
    percent: 86,
    byApp: [{ app: evil(2), env: evil(3), connections: 300 }],
    sources: [{ name: evil(4), ok: false, error: evil(0) }],
    findings: [{ kind: evil(1), detail: evil(2) }],
  };
  const detail: IncidentDetail = {
    ...summary,
    alerts: [
      {
        alertId: evil(1),
        event: evil(2) as never,
        status: "OPEN",
        metricName: evil(3),
        currentValue: { number: 86, units: evil(4) },
        updated: now,
        receivedAt: now,
      },
    ],
    journal: [
      {
        at: now,
        step: "intake",
        status: "opened",
        detail: { event: evil(0), metric: evil(1), value: evil(2) },
      },
      { at: now, step: "stats", status: "ok", detail: reading },
      { at: now, step: "stats", status: "identified", detail: { cluster: evil(3), via: evil(4) } },
      {
        at: now,
        step: "plan",
        status: "redeploy",
        detail: { target: evil(0), kind: evil(1), reason: evil(2), culprits: [evil(3), evil(4)] },
      },
      {
        at: now,
        step: "advice",
        status: "ok",
        detail: { advice: [{ app: evil(0), summary: evil(1), steps: [evil(2), evil(3)] }] },
      },
      {
        at: now,
        step: "approval",
        status: "requested",
        detail: { target: evil(4), kind: evil(0), reason: evil(1), culprits: [evil(2)] },
      },
      {
        at: now,
        step: "approval",
        status: "refused",
        detail: { by: evil(3), decision: evil(4), reason: evil(0) },
      },
      {
        at: now,
        step: "action",
        status: "sending",
        detail: {
          target: evil(1),
          kind: evil(2),
          action: evil(3),
          method: evil(4),
          endpoint: evil(0),
          attempt: 1,
        },
      },
      {
        at: now,
        step: "action",
        status: "failed",
        detail: { target: evil(1), action: evil(3), detail: evil(2), deployId: evil(4) },
      },
      { at: now, step: "verify", status: "still-high", detail: { check: 1, of: 2, ...reading } },
      { at: now, step: "incident", status: "escalated", detail: { reason: evil(3) } },
      { at: now, step: "slack", status: "failed", detail: { error: evil(4) } },
      {
        at: now,
        step: "act",
        status: "error",
        detail: { error: evil(0), message: evil(1), retryInSeconds: 5 },
      },
      { at: now, step: evil(2), status: evil(3), detail: { x: evil(4) } },
    ],
  };
  const overview: ClusterOverview[] = [
    {
      groupId: GROUP,
      name: evil(0),
      tier: evil(1),
      configured: false,
      latest: {
        at: now,
        current: 430,
        limit: 500,
        percent: 86,
        tier: evil(2),
        sources: [{ name: evil(3), ok: false, error: evil(4) }],
      },
    },
  ];
  const samples: Sample[] = [
    {
      at: new Date(Date.now() - 3600_000).toISOString(),
      current: 200,
      limit: 500,
      percent: 40,
      tier: evil(3),
    },
    {
      at: new Date(Date.now() - 1800_000).toISOString(),
      current: null,
      limit: null,
      percent: null,
      tier: null,
    },
    { at: now, current: 430, limit: 500, percent: 86, tier: evil(4) },
  ];
  const gateway = {
    record: () => Promise.reject(new Error("not used")),
    trigger: () => Promise.reject(new Error("not used")),
    list: async () => [summary],
    get: async () => detail,
    decide: async () => ({ applied: false, state: "awaiting-approval" }),
    overview: async () => overview,
    samples: async () => samples,
  } satisfies LedgerGateway & Record<string, unknown>;
  const app = createApp<Record<string, unknown>>({
    version: "0.0.0",
    config: (e) => parseConfig(e),
    ledgers: () => gateway,
  });

  it("renders them all as text", async () => {
    const login = await app.fetch(
      new Request(`${BASE}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "192.0.2.77" },
        body: new URLSearchParams({ token: TEST_SECRETS.ADMIN_TOKEN }).toString(),
      }),
      env,
    );
    expect(login.status).toBe(303);
    const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    for (const path of ["/", "/ui/incidents", `/ui/incidents/${id}`]) {
      const response = await app.fetch(new Request(`${BASE}${path}`, { headers: { cookie } }), env);
      expect(response.status, path).toBe(200);
      const html = await response.text();
      expectInert(html, path);
      expect(html, path).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    }
    const incident = await (
      await app.fetch(new Request(`${BASE}/ui/incidents/${id}`, { headers: { cookie } }), env)
    ).text();
    // Every kind of field made it to the page (escaped), so the check above covered it.
    for (const text of [
      "&lt;img src=x onerror=alert(2)&gt;",
      "&quot;&gt;&lt;svg onload=alert(4)&gt;",
      "&#39;&gt;&lt;svg onload=alert(5)&gt;",
      "javascript:alert(3)",
    ]) {
      expect(incident).toContain(text);
    }
    expect(field(incident, "requestedAt")).toBe(now);
  });
});
