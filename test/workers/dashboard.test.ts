/** The dashboard inside workerd: login, cookie, back-off, CSRF, decisions, headers, 404/405. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { signSession, verifySession } from "../../src/http/dashboard/session.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { field, freshIp, loginCookie, page, postForm, tryLogin } from "./dashboard-support.ts";
import { E2E } from "./e2e-plan.ts";
import { alertFor, atlas, incident, platforms, steps, waitFor } from "./e2e-support.ts";
import { captureLogs, json } from "./support.ts";

const logs = captureLogs(["webhook.recorded", "dashboard.login", "dashboard.decision"]);

/** The same text with its last character changed. */
const flipLast = (s: string) => `${s.slice(0, -1)}${s.endsWith("A") ? "B" : "A"}`;

const PAGES = ["/", "/ui/incidents", "/ui/incidents/e2e000000000000000000008-0000000000abcde"];

describe("without a login", () => {
  it.each(PAGES)("GET %s answers 303 to the login form", async (path) => {
    const response = await page(path);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toMatch(/^\/login(\?next=|$)/);
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("keeps the page asked for in the login link, as a local path only", async () => {
    const response = await page("/ui/incidents?state=open");
    expect(response.headers.get("location")).toBe(
      `/login?next=${encodeURIComponent("/ui/incidents?state=open")}`,
    );
    const form = await page("/login?next=https://evil.example/");
    expect(field(await form.text(), "next")).toBe("/");
  });

  it("refuses a decision POST with 403", async () => {
    const response = await postForm("/ui/incidents/x/decision", { decision: "approve", csrf: "x" });
    expect(response.status).toBe(403);
  });

  it("serves the login form with the security headers", async () => {
    const response = await page("/login");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(response.headers.get("content-security-policy")).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("same-origin");
    const html = await response.text();
    expect(html).toContain('<label for="token">');
    expect(html).toContain('<main id="main">');
    expect(html).not.toContain(TEST_SECRETS.ADMIN_TOKEN);
  });

  it("serves the stylesheet as CSS", async () => {
    const response = await page("/assets/dashboard.css");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/css/);
    expect(await response.text()).toContain(".chart");
  });
});

describe("login", () => {
  it("a wrong token sets no cookie", async () => {
    logs.expect("dashboard.login-failed");
    const response = await tryLogin("not-the-admin-token-at-all");
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).not.toContain("not-the-admin-token-at-all");
  });

  it("backs off after 5 failures, across requests, even for the right token, per address", async () => {
    logs.expect("dashboard.login-failed", "dashboard.login-locked");
    const ip = freshIp();
    for (let i = 0; i < 4; i++) expect((await tryLogin(`wrong-${i}-0000000000000`, ip)).status).toBe(401);
    const fifth = await tryLogin("wrong-5-0000000000000", ip);
    expect(fifth.status).toBe(429);
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    const right = await tryLogin(TEST_SECRETS.ADMIN_TOKEN, ip);
    expect(right.status).toBe(429);
    expect(right.headers.get("set-cookie")).toBeNull();
    // The count lives in the LoginGuard Durable Object, not in the isolate.
    const guard = env.LOGIN_GUARD.getByName(`ip:${ip}`);
    expect((await guard.check(Date.now())).ok).toBe(false);
    // Another address is not held back.
    expect((await tryLogin(TEST_SECRETS.ADMIN_TOKEN)).status).toBe(303);
    expect(logs.of("dashboard.login-failed")).toHaveLength(5);
  });

  it("the lock grows with each further failure", async () => {
    const guard = env.LOGIN_GUARD.getByName("ip:198.51.100.7");
    const now = Date.now();
    let last = 0;
    for (let i = 0; i < 7; i++) {
      const verdict = await guard.fail(now + i);
      if (!verdict.ok) {
        expect(verdict.retryAfterSeconds).toBeGreaterThan(last);
        last = verdict.retryAfterSeconds;
      }
    }
    expect(last).toBeGreaterThanOrEqual(240);
  });

  it("without CF-Connecting-IP, failures share one key", async () => {
    logs.expect("dashboard.login-failed");
    const response = await postForm("/login", { token: "wrong-token-000000000" });
    expect(response.status).toBe(401);
    const guard = env.LOGIN_GUARD.getByName("ip:unknown");
    expect((await guard.check(Date.now())).ok).toBe(true);
  });

  it("the right token sets a signed HttpOnly, Secure, SameSite=Lax cookie with an expiry", async () => {
    const response = await tryLogin(TEST_SECRETS.ADMIN_TOKEN);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/");
    const cookies = response.headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const cookie = cookies[0]!;
    expect(cookie).toMatch(/^responder_session=v1\./);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
    expect(cookie).toMatch(/Max-Age=43\d{3}/);
    expect(cookie).toMatch(/Expires=/);
    expect(cookie).not.toContain(TEST_SECRETS.ADMIN_TOKEN);
    const home = await page("/", { headers: { cookie: cookie.split(";")[0]! } });
    expect(home.status).toBe(200);
  });

  it("on a loopback host the cookie is not Secure (plain-HTTP wrangler dev)", async () => {
    const response = await tryLogin(TEST_SECRETS.ADMIN_TOKEN, freshIp(), "http://127.0.0.1:8787");
    expect(response.status).toBe(303);
    const cookie = response.headers.getSetCookie()[0]!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).not.toContain("Secure");
  });

  it("refuses a login posted from another origin", async () => {
    const response = await postForm(
      "/login",
      { token: TEST_SECRETS.ADMIN_TOKEN },
      { origin: "https://evil.example", "cf-connecting-ip": freshIp() },
    );
    expect(response.status).toBe(403);
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("a tampered, expired or foreign cookie answers 303", async () => {
    const good = await loginCookie();
    const value = good.slice("responder_session=".length);
    const [v, id, expires, mac] = value.split(".");
    const flip = (s: string) => (s[0] === "A" ? `B${s.slice(1)}` : `A${s.slice(1)}`);
    const expired = await signSession(TEST_SECRETS.ADMIN_TOKEN, Date.now() - 13 * 3600_000);
    const foreign = await signSession("another-admin-token-0000000", Date.now());
    for (const bad of [
      `${v}.${flip(id!)}.${expires}.${mac}`,
      `${v}.${id}.${Number(expires) + 3600_000}.${mac}`,
      `${v}.${id}.${expires}.${flip(mac!)}`,
      expired.value,
      foreign.value,
      "garbage",
    ]) {
      const response = await page("/", { headers: { cookie: `responder_session=${bad}` } });
      expect(response.status, bad).toBe(303);
    }
  });

  it("rotating ADMIN_TOKEN ends every login", async () => {
    const { value } = await signSession(TEST_SECRETS.ADMIN_TOKEN, Date.now());
    expect(await verifySession(TEST_SECRETS.ADMIN_TOKEN, value, Date.now())).not.toBeNull();
    expect(await verifySession(`${TEST_SECRETS.ADMIN_TOKEN}-rotated`, value, Date.now())).toBeNull();
  });

  it("logout needs the CSRF token and clears the cookie", async () => {
    const cookie = await loginCookie();
    const html = await (await page("/", { headers: { cookie } })).text();
    const csrf = field(html, "csrf")!;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await postForm("/logout", { csrf: "nope" }, { cookie })).status).toBe(403);
    const out = await postForm("/logout", { csrf }, { cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/login");
    expect(out.headers.getSetCookie()[0]).toMatch(/^responder_session=;.*Max-Age=0/);
  });
});

describe("404 and 405", () => {
  it("an unknown path is a JSON 404", async () => {
    const response = await page("/ui/nope");
    expect(response.status).toBe(404);
    expect(await json(response)).toEqual({ error: "not found" });
  });

  it.each([
    ["POST", "/", "GET, HEAD"],
    ["DELETE", "/login", "GET, HEAD, POST"],
    ["GET", "/logout", "POST"],
    ["PUT", "/ui/incidents", "GET, HEAD"],
    ["GET", "/ui/incidents/x/decision", "POST"],
  ])("%s %s answers 405 with Allow", async (method, path, allow) => {
    const response = await page(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe(allow);
  });
});

describe("decisions from the dashboard", () => {
  const { groupId, cluster } = E2E.dashboard;
  beforeAll(async () => {
    const processes = await atlas.project(groupId, [{ name: cluster, tier: "M0" }]);
    await atlas.setConnections(
      Object.fromEntries(
        Object.values(processes)
          .flat()
          .map((p) => [p, 430]),
      ),
    );
  });

  async function awaiting() {
    const { incident: id } = await alertFor(groupId, cluster, 86);
    const waiting = await waitFor(id, (i) => i.state === "awaiting-approval");
    const cookie = await loginCookie();
    const response = await page(`/ui/incidents/${id}`, { headers: { cookie } });
    expect(response.status).toBe(200);
    const html = await response.text();
    return { id, waiting, cookie, html };
  }

  it("without or with a bad CSRF token: 403, and the incident is unchanged", async () => {
    const { id, waiting, cookie, html } = await awaiting();
    const requestedAt = field(html, "requestedAt")!;
    expect(requestedAt).toBe(waiting.journal.findLast((e) => e.status === "requested")!.at);
    const attempts: Record<string, string>[] = [
      { decision: "approve", requestedAt },
      { decision: "approve", requestedAt, csrf: "" },
      { decision: "approve", requestedAt, csrf: flipLast(field(html, "csrf")!) },
    ];
    for (const fields of attempts) {
      const response = await postForm(`/ui/incidents/${id}/decision`, fields, { cookie });
      expect(response.status).toBe(403);
    }
    // Another login's token does not fit this one.
    const other = await loginCookie();
    const otherCsrf = field(await (await page("/", { headers: { cookie: other } })).text(), "csrf")!;
    const crossed = await postForm(
      `/ui/incidents/${id}/decision`,
      { decision: "skip", requestedAt, csrf: otherCsrf },
      { cookie },
    );
    expect(crossed.status).toBe(403);
    const after = await incident(id);
    expect(after.state).toBe("awaiting-approval");
    const decisions = (i: { journal: { step: string; status: string }[] }) =>
      i.journal.filter((e) => e.step === "approval" || e.step === "action");
    expect(decisions(after)).toEqual(decisions(waiting));
  });

  it("approve is journaled with source dashboard, the redeploy runs, and the page shows it", async () => {
    const { id, cookie, html } = await awaiting();
    expect(html).toContain('value="approve"');
    const response = await postForm(
      `/ui/incidents/${id}/decision`,
      { decision: "approve", requestedAt: field(html, "requestedAt")!, csrf: field(html, "csrf")! },
      { cookie },
    );
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`/ui/incidents/${id}?done=approve`);
    const acted = await waitFor(id, (i) => steps(i).includes("action:started"));
    expect(acted.journal.find((e) => e.status === "approved")!.detail).toEqual({
      by: "dashboard",
      source: "dashboard",
    });
    expect(await platforms.calls("dashboard-web")).toHaveLength(1);
    const shown = await (await page(`/ui/incidents/${id}?done=approve`, { headers: { cookie } })).text();
    expect(shown).toContain("Approved: the responder acts now.");
    expect(shown).toContain("dashboard-web");
    expect(shown).toMatch(/<code>POST [^<]+<\/code>/);
    expect(shown).not.toContain('value="approve"');
    // A second click on the same request changes nothing.
    const again = await postForm(
      `/ui/incidents/${id}/decision`,
      { decision: "approve", requestedAt: field(html, "requestedAt")!, csrf: field(html, "csrf")! },
      { cookie },
    );
    expect(again.headers.get("location")).toBe(`/ui/incidents/${id}?done=unchanged`);
    expect(await platforms.calls("dashboard-web")).toHaveLength(1);
  }, 30_000);

  it("the overview and the list show the cluster and its incident", async () => {
    const { id, cookie } = await awaiting();
    const overview = await (await page("/", { headers: { cookie } })).text();
    expect(overview).toContain(cluster);
    expect(overview).toContain(`/ui/incidents/${id}`);
    expect(overview).toMatch(/430 \/ 500/);
    expect(overview).toContain("86 %");
    const list = await (
      await page(`/ui/incidents?state=awaiting-approval&cluster=${cluster}`, { headers: { cookie } })
    ).text();
    expect(list).toContain(`/ui/incidents/${id}`);
    expect(list).toContain("Awaiting approval");
    const none = await (
      await page(`/ui/incidents?state=resolved&cluster=${cluster}`, { headers: { cookie } })
    ).text();
    expect(none).not.toContain(`/ui/incidents/${id}`);
    // Skip goes the same way.
    const html = await (await page(`/ui/incidents/${id}`, { headers: { cookie } })).text();
    const skipped = await postForm(
      `/ui/incidents/${id}/decision`,
      { decision: "skip", requestedAt: field(html, "requestedAt")!, csrf: field(html, "csrf")! },
      { cookie },
    );
    expect(skipped.headers.get("location")).toBe(`/ui/incidents/${id}?done=skip`);
    expect((await incident(id)).journal.find((e) => e.status === "skipped")!.detail).toEqual({
      by: "dashboard",
      source: "dashboard",
    });
  }, 30_000);
});
