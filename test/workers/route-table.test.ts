/**
 * The route table: every route the app declares × every credential it can be sent with — none,
 * wrong, expired where the credential expires (Slack's five-minute window, the dashboard cookie's
 * 12 h), the secret being rotated out, right — answers exactly what DESIGN §3 documents, and every
 * refusal says no more than its fixed message. The route list comes from the app itself
 * (`app.routes`), so a route added without a row here fails the first test. Methods a path does not
 * serve answer 405 with the path's `Allow` list.
 *
 * While ATLAS_WEBHOOK_SECRET_PREVIOUS / SLACK_SIGNING_SECRET_PREVIOUS are set (the test bindings
 * set both) the old secrets open their doors too; an app on the same environment with them unset
 * refuses the old ones.
 *
 * Atlas signatures carry no timestamp, so they have no "expired" case; the login form's credential
 * is ADMIN_TOKEN itself, which does not expire either.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { signAtlasBody } from "../../src/atlas/webhook-signature.ts";
import { parseConfig } from "../../src/config/schema.ts";
import { sameSecret } from "../../src/http/admin-auth.ts";
import { createApp } from "../../src/http/app.ts";
import { csrfToken } from "../../src/http/dashboard/csrf.ts";
import { SESSION_COOKIE, SESSION_TTL_MS, signSession } from "../../src/http/dashboard/session.ts";
import { createLedgerGateway, type LedgerBindings } from "../../src/ledger/gateway.ts";
import { DISK_ALERT_OPEN } from "../fixtures/atlas-alerts.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { BASE, captureLogs } from "./support.ts";

type Credential = "none" | "wrong" | "expired" | "previous" | "right";

/** What an answer must be: a status and, for refusals, the exact body (JSON) or a check of the HTML. */
interface Expected {
  status: number;
  json?: unknown;
  html?: RegExp;
  location?: RegExp;
}

interface Row {
  method: "GET" | "POST";
  /** The path as the app declares it. */
  route: string;
  /** A concrete URL path for it. */
  path: string;
  auth: string;
  answers: Partial<Record<Credential, Expected>>;
  send(credential: Credential): Promise<Response>;
}

const OTHER_ADMIN_TOKEN = "another-admin-token-not-this-one-0c1f";
const INCIDENT = "e2e000000000000000000004-0000000000zzzzz";
const encoder = new TextEncoder();

/** Where the rows' requests go: the Worker itself, unless a test points them at another app. */
let serve = (request: Request): Promise<Response> => exports.default.fetch(request);
const fetchWorker = (path: string, init: RequestInit = {}) =>
  serve(new Request(`${BASE}${path}`, { redirect: "manual", ...init }));

// ---- credentials, one builder per kind ----------------------------------------------------------

async function atlasHeaders(credential: Credential, body: string): Promise<Record<string, string>> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-mms-event": "alert.open" };
  const secret = {
    none: null,
    wrong: "whsec-not-the-configured-secret-77",
    expired: null,
    previous: TEST_SECRETS.ATLAS_WEBHOOK_SECRET_PREVIOUS,
    right: TEST_SECRETS.ATLAS_WEBHOOK_SECRET,
  }[credential];
  if (secret) headers["x-mms-signature"] = await signAtlasBody(body, secret);
  return headers;
}

function bearer(credential: Credential): Record<string, string> {
  if (credential === "none") return {};
  return { authorization: `Bearer ${credential === "right" ? TEST_SECRETS.ADMIN_TOKEN : OTHER_ADMIN_TOKEN}` };
}

async function slackHeaders(credential: Credential, body: string): Promise<Record<string, string>> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (credential === "none") return headers;
  const now = Math.floor(Date.now() / 1000);
  const timestamp = String(credential === "expired" ? now - 5 * 60 - 30 : now);
  const secret =
    credential === "wrong"
      ? "slack-signing-not-the-configured-one"
      : credential === "previous"
        ? TEST_SECRETS.SLACK_SIGNING_SECRET_PREVIOUS
        : inject("slack").signingSecret;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, encoder.encode(`v0:${timestamp}:${body}`)),
  );
  headers["x-slack-request-timestamp"] = timestamp;
  headers["x-slack-signature"] = `v0=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  return headers;
}

/** A session cookie: none, signed under another ADMIN_TOKEN, past its 12 h, or right; plus its CSRF token. */
async function session(credential: Credential): Promise<{ cookie: Record<string, string>; csrf: string }> {
  if (credential === "none") return { cookie: {}, csrf: "" };
  const token = credential === "wrong" ? OTHER_ADMIN_TOKEN : TEST_SECRETS.ADMIN_TOKEN;
  const issuedAt = credential === "expired" ? Date.now() - SESSION_TTL_MS - 60_000 : Date.now();
  const { value, session: s } = await signSession(token, issuedAt);
  return { cookie: { cookie: `${SESSION_COOKIE}=${value}` }, csrf: await csrfToken(token, s) };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

let ip = 0;
let alerts = 0;
/** Each login try from its own address, so the back-off of one never shapes another. */
const loginIp = () => {
  ip = (ip % 250) + 1;
  return `198.18.0.${ip}`;
};

// ---- the documented refusals --------------------------------------------------------------------

const INVALID_SIGNATURE: Expected = { status: 401, json: { error: "invalid signature" } };
const UNAUTHORIZED: Expected = { status: 401, json: { error: "unauthorized" } };
const TO_LOGIN: Expected = { status: 303, location: /^\/login(\?next=[^&]+)?$/ };
const FORBIDDEN: Expected = { status: 403, html: /<h1>Forbidden<\/h1>/ };

const ROWS: Row[] = [
  {
    method: "POST",
    route: "/webhooks/atlas",
    path: "/webhooks/atlas",
    auth: "X-MMS-Signature (HMAC-SHA1, no timestamp)",
    answers: {
      none: INVALID_SIGNATURE,
      wrong: INVALID_SIGNATURE,
      previous: { status: 202, json: { status: "ignored", incident: null } },
      right: { status: 202, json: { status: "ignored", incident: null } },
    },
    async send(credential) {
      // A disk alert: verified and journaled as ignored, never acted on.
      const body = JSON.stringify({
        ...DISK_ALERT_OPEN,
        id: `5d1b6f8e8c2e4e2d3c4a${String(++alerts).padStart(4, "0")}`,
      });
      return fetchWorker(this.path, { method: "POST", headers: await atlasHeaders(credential, body), body });
    },
  },
  {
    method: "POST",
    route: "/trigger",
    path: "/trigger",
    auth: "Bearer ADMIN_TOKEN",
    answers: {
      none: UNAUTHORIZED,
      wrong: UNAUTHORIZED,
      // Past the lock, the body is judged: an unknown field is a 400, so the test starts no run.
      right: { status: 400 },
    },
    send(credential) {
      return fetchWorker(this.path, {
        method: "POST",
        headers: { ...bearer(credential), "content-type": "application/json" },
        body: JSON.stringify({ unexpected: true }),
      });
    },
  },
  {
    method: "GET",
    route: "/incidents",
    path: "/incidents",
    auth: "Bearer ADMIN_TOKEN",
    answers: {
      none: UNAUTHORIZED,
      wrong: UNAUTHORIZED,
      right: { status: 200, json: { incidents: [], next: null } },
    },
    send(credential) {
      return fetchWorker(this.path, { headers: bearer(credential) });
    },
  },
  {
    method: "GET",
    route: "/incidents/:id",
    path: `/incidents/${INCIDENT}`,
    auth: "Bearer ADMIN_TOKEN",
    answers: {
      none: UNAUTHORIZED,
      wrong: UNAUTHORIZED,
      right: { status: 404, json: { error: "not found" } },
    },
    send(credential) {
      return fetchWorker(this.path, { headers: bearer(credential) });
    },
  },
  {
    method: "POST",
    route: "/slack/actions",
    path: "/slack/actions",
    auth: "Slack v0 signature, 5-minute window",
    answers: {
      none: INVALID_SIGNATURE,
      wrong: INVALID_SIGNATURE,
      expired: INVALID_SIGNATURE,
      // Past the signature, the payload is judged: a view_submission is not a button click.
      previous: { status: 400 },
      right: { status: 400 },
    },
    async send(credential) {
      const body = form({ payload: JSON.stringify({ type: "view_submission" }) });
      return fetchWorker(this.path, { method: "POST", headers: await slackHeaders(credential, body), body });
    },
  },
  {
    method: "GET",
    route: "/healthz",
    path: "/healthz",
    auth: "none",
    answers: { none: { status: 200 } },
    send() {
      return fetchWorker(this.path);
    },
  },
  {
    method: "GET",
    route: "/assets/dashboard.css",
    path: "/assets/dashboard.css",
    auth: "none",
    answers: { none: { status: 200 } },
    send() {
      return fetchWorker(this.path);
    },
  },
  {
    method: "GET",
    route: "/login",
    path: "/login",
    auth: "none (the form)",
    answers: { none: { status: 200 } },
    send() {
      return fetchWorker(this.path);
    },
  },
  {
    method: "POST",
    route: "/login",
    path: "/login",
    auth: "ADMIN_TOKEN in the form",
    answers: {
      none: { status: 401, html: /That is not the admin token\./ },
      wrong: { status: 401, html: /That is not the admin token\./ },
      right: { status: 303, location: /^\/$/ },
    },
    send(credential) {
      const token = { none: "", wrong: OTHER_ADMIN_TOKEN, right: TEST_SECRETS.ADMIN_TOKEN }[
        credential as "none" | "wrong" | "right"
      ];
      return fetchWorker(this.path, {
        method: "POST",
        headers: { ...formHeaders, "cf-connecting-ip": loginIp() },
        body: form({ token, next: "/" }),
      });
    },
  },
  {
    method: "POST",
    route: "/logout",
    path: "/logout",
    auth: "session cookie + CSRF token",
    answers: {
      none: FORBIDDEN,
      wrong: FORBIDDEN,
      expired: FORBIDDEN,
      right: { status: 303, location: /^\/login$/ },
    },
    async send(credential) {
      const { cookie, csrf } = await session(credential);
      return fetchWorker(this.path, {
        method: "POST",
        headers: { ...formHeaders, ...cookie },
        body: form({ csrf }),
      });
    },
  },
  ...(["/", "/ui/incidents", `/ui/incidents/${INCIDENT}`] as const).map(
    (path): Row => ({
      method: "GET",
      route: path.startsWith("/ui/incidents/") ? "/ui/incidents/:id" : path,
      path,
      auth: "session cookie",
      answers: {
        none: TO_LOGIN,
        wrong: TO_LOGIN,
        expired: TO_LOGIN,
        right: { status: path.startsWith("/ui/incidents/") ? 404 : 200, html: /<main id="main">/ },
      },
      async send(credential) {
        return fetchWorker(path, { headers: (await session(credential)).cookie });
      },
    }),
  ),
  {
    method: "POST",
    route: "/ui/incidents/:id/decision",
    path: `/ui/incidents/${INCIDENT}/decision`,
    auth: "session cookie + CSRF token",
    answers: {
      none: FORBIDDEN,
      wrong: FORBIDDEN,
      expired: FORBIDDEN,
      // Past both locks, the ledger has no such incident: nothing changes, and the page says so.
      right: { status: 303, location: /\?done=unchanged$/ },
    },
    async send(credential) {
      const { cookie, csrf } = await session(credential);
      return fetchWorker(this.path, {
        method: "POST",
        headers: { ...formHeaders, ...cookie },
        body: form({ csrf, decision: "approve", requestedAt: new Date().toISOString() }),
      });
    },
  },
];

/** The routes the app declares, as "METHOD path", from Hono's own table. */
function declaredRoutes() {
  const app = createApp({
    version: "0.0.0",
    config: () => {
      throw new Error("not called: only the route table is read");
    },
    ledgers: () => {
      throw new Error("not called");
    },
  });
  const routes = new Set<string>();
  const paths = new Set<string>();
  for (const { method, path } of app.routes) {
    if (method !== "ALL") routes.add(`${method} ${path}`);
    // The 405 catch-alls: one ALL per known path, without wildcards.
    else if (!path.includes("*")) paths.add(path);
  }
  return { routes, paths };
}

// Every secret the Worker knows, and the internal names a refusal must never show.
const SECRETS = () => [
  ...Object.values(TEST_SECRETS),
  inject("slack").token,
  inject("slack").signingSecret,
  inject("atlasCredentials").serviceAccount.clientSecret,
  ...inject("e2eTargets").flatMap((t) => Object.values(t.secrets)),
  ...Object.values(inject("e2eMongo")).map((m) => m.uri),
];
const LEAKS = /\bat .+:\d+:\d+|\.ts\b|node_modules|stack|TypeError|ReferenceError|Ledger|Durable|zod|hono/i;

async function expectAnswer(response: Response, expected: Expected, label: string): Promise<void> {
  const text = await response.text();
  expect(response.status, `${label}: ${text.slice(0, 200)}`).toBe(expected.status);
  if (expected.json !== undefined) expect(JSON.parse(text), label).toEqual(expected.json);
  if (expected.html) expect(text, label).toMatch(expected.html);
  if (expected.location) expect(response.headers.get("location"), label).toMatch(expected.location);
  for (const secret of SECRETS()) expect(text, label).not.toContain(secret);
  if (expected.status >= 300) {
    expect(text, label).not.toMatch(LEAKS);
    if (expected.status < 400) expect(text, label).toBe("");
  }
  expect(response.headers.get("set-cookie") ?? "", label).not.toContain(TEST_SECRETS.ADMIN_TOKEN);
}

// Refusals are logged by design (the reason goes to the log only); claim them so the run stays quiet.
const logs = captureLogs([
  "webhook.recorded",
  "webhook.rejected",
  "admin.unauthorized",
  "slack.actions-rejected",
  "slack.previous-secret",
  "dashboard.login",
  "dashboard.login-failed",
  "dashboard.decision",
]);

describe("the route table", () => {
  it("has a row for every route the app declares, and no row for a route it does not", () => {
    const { routes } = declaredRoutes();
    expect(new Set(ROWS.map((r) => `${r.method} ${r.route}`))).toEqual(routes);
  });

  for (const row of ROWS) {
    const credentials = Object.keys(row.answers) as Credential[];
    it(`${row.method} ${row.route} (${row.auth}): ${credentials.join(", ")}`, async () => {
      for (const credential of credentials) {
        const expected = row.answers[credential]!;
        await expectAnswer(
          await row.send(credential),
          expected,
          `${row.method} ${row.path} with ${credential}`,
        );
      }
      // Every row that has a lock is tried without its key and with a wrong one.
      if (row.auth !== "none" && !row.auth.startsWith("none ")) {
        expect(credentials).toEqual(expect.arrayContaining(["none", "wrong", "right"]));
        expect(row.answers.none!.status).not.toBe(row.answers.right!.status);
      }
    });
  }

  it("logs why a request was refused, never the credential it carried", async () => {
    for (const row of ROWS)
      for (const credential of ["none", "wrong"] as const) await (await row.send(credential)).text();
    expect(logs.of("webhook.rejected").map((l) => l.reason)).toEqual([
      "signature missing",
      "signature mismatch",
    ]);
    expect(logs.of("admin.unauthorized").map((l) => l.reason)).toEqual([
      "no Authorization header",
      "wrong token",
      "no Authorization header",
      "wrong token",
      "no Authorization header",
      "wrong token",
    ]);
    expect(logs.of("slack.actions-rejected").map((l) => l.reason)).toEqual([
      "signature missing",
      "signature mismatch",
    ]);
    const logged = logs.written().join("\n");
    for (const secret of [OTHER_ADMIN_TOKEN, ...SECRETS()]) expect(logged).not.toContain(secret);
  });
});

describe("methods a path does not serve", () => {
  const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

  it("answer 405 with the path's Allow list, for every known path", async () => {
    const { paths } = declaredRoutes();
    const rowsOf = (path: string) => ROWS.filter((r) => r.route === path);
    expect([...paths].every((p) => rowsOf(p).length > 0)).toBe(true);
    const admin = { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}` };
    const { cookie } = await session("right");
    let checked = 0;
    for (const path of paths) {
      const rows = rowsOf(path);
      const served = new Set<string>(rows.map((r) => r.method));
      if (served.has("GET")) served.add("HEAD");
      const url = rows[0]!.path;
      for (const method of METHODS) {
        if (served.has(method)) continue;
        // With the path's credential, so the answer is about the method, not the lock.
        const response = await fetchWorker(url, { method, headers: { ...admin, ...cookie } });
        const label = `${method} ${url}`;
        expect(response.status, label).toBe(405);
        expect(response.headers.get("allow")?.split(", ").sort(), label).toEqual([...served].sort());
        if (method !== "HEAD") expect(await response.json(), label).toEqual({ error: "method not allowed" });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("never reach a locked route without its credential, whatever the method", async () => {
    const open = (r: Row) => r.auth === "none" || r.auth.startsWith("none ");
    for (const row of ROWS.filter((r) => !open(r))) {
      // GET /login is the public form on a locked path; every other method is tried bare.
      const publicMethods = new Set<string>(
        ROWS.filter((r) => open(r) && r.path === row.path).map((r) => r.method),
      );
      if (publicMethods.has("GET")) publicMethods.add("HEAD");
      for (const method of METHODS.filter((m) => !publicMethods.has(m))) {
        const response = await fetchWorker(row.path, { method });
        expect([303, 401, 403, 405], `${method} ${row.path}`).toContain(response.status);
        await response.text();
      }
    }
  });

  it("answers an unknown path 404 with nothing else, credentials or not", async () => {
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${TEST_SECRETS.ADMIN_TOKEN}` },
    ];
    for (const headers of headerSets) {
      const response = await fetchWorker("/incidents-archive/../../.dev.vars", { headers });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: "not found" });
    }
  });
});

describe("sameSecret, the bearer, login and CSRF comparison", () => {
  it("is true for the same text only, whatever either length (both sides are hashed first)", async () => {
    expect(await sameSecret(TEST_SECRETS.ADMIN_TOKEN, TEST_SECRETS.ADMIN_TOKEN)).toBe(true);
    expect(await sameSecret(TEST_SECRETS.ADMIN_TOKEN, `${TEST_SECRETS.ADMIN_TOKEN}x`)).toBe(false);
    expect(await sameSecret(TEST_SECRETS.ADMIN_TOKEN.slice(0, -1), TEST_SECRETS.ADMIN_TOKEN)).toBe(false);
    expect(await sameSecret("", TEST_SECRETS.ADMIN_TOKEN)).toBe(false);
    expect(await sameSecret("é", "e\u0301")).toBe(false);
  });
});

describe("secret rotation at the doors", () => {
  type Bindings = LedgerBindings & Record<string, unknown>;
  /** The Worker's app on this environment with the `_PREVIOUS` secrets unset: the rotation is over. */
  const rotated = createApp<Bindings>({
    version: "0.0.0",
    config: (e) =>
      parseConfig({ ...e, ATLAS_WEBHOOK_SECRET_PREVIOUS: "", SLACK_SIGNING_SECRET_PREVIOUS: "" }),
    ledgers: (e) => createLedgerGateway(e),
  });

  /** Sends a row's request for `credential` to the app with no previous secrets. */
  async function sendRotated(route: string, credential: Credential): Promise<Response> {
    const row = ROWS.find((r) => r.route === route)!;
    const worker = serve;
    serve = async (request) => rotated.fetch(request, env as unknown as Bindings);
    try {
      return await row.send(credential);
    } finally {
      serve = worker;
    }
  }

  it("accepts the previous secrets beside the current ones while set, and says so in the log", async () => {
    const atlas = ROWS.find((r) => r.route === "/webhooks/atlas")!;
    expect((await atlas.send("previous")).status).toBe(202);
    expect(logs.of("webhook.recorded").at(-1)).toMatchObject({ signedWith: "previous secret" });
    expect((await atlas.send("right")).status).toBe(202);
    expect(logs.of("webhook.recorded").at(-1)).not.toHaveProperty("signedWith");
    const slack = ROWS.find((r) => r.route === "/slack/actions")!;
    expect((await slack.send("previous")).status).toBe(400);
    expect(logs.of("slack.previous-secret")).toHaveLength(1);
  });

  it("refuses the old secret once its _PREVIOUS entry is unset, and still takes the current one", async () => {
    expect((await sendRotated("/webhooks/atlas", "previous")).status).toBe(401);
    expect((await sendRotated("/webhooks/atlas", "right")).status).toBe(202);
    expect((await sendRotated("/slack/actions", "previous")).status).toBe(401);
    expect((await sendRotated("/slack/actions", "right")).status).toBe(400);
    expect(logs.of("webhook.rejected").map((l) => l.reason)).toEqual(["signature mismatch"]);
    expect(logs.of("slack.actions-rejected").map((l) => l.reason)).toEqual(["signature mismatch"]);
  });
});
