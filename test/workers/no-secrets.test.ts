/**
 * No secret ever reaches a response body or a log line. Every kind of request — good, bad, refused —
 * is sent while console output is captured, then both are searched for each secret value.
 */
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { field, page, postForm, tryLogin } from "./dashboard-support.ts";
import { E2E } from "./e2e-plan.ts";
import { atlas, mongoControl, platforms, settled, steps, waitFor } from "./e2e-support.ts";
import { admin, deliver } from "./support.ts";

const lines: string[] = [];

beforeEach(() => {
  lines.length = 0;
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("secrets", () => {
  it("never appear in bodies or logs, whatever the request", async () => {
    const bodies: string[] = [];
    const keep = async (response: Response) => bodies.push(`${response.status} ${await response.text()}`);

    await keep(await deliver(M0_CONNECTIONS_OPEN));
    await keep(await deliver(M0_CONNECTIONS_OPEN, { secret: "wrong" }));
    await keep(await deliver(M0_CONNECTIONS_OPEN, { signature: null }));
    await keep(await deliver("{", {}));
    await keep(await deliver(alertWith(M0_CONNECTIONS_OPEN, { id: TEST_SECRETS.ADMIN_TOKEN })));
    await keep(await admin("/incidents", {}, "wrong-token-0123456789"));
    await keep(await admin("/incidents", {}, TEST_SECRETS.ATLAS_WEBHOOK_SECRET));
    await keep(await admin("/incidents"));
    await keep(
      await admin("/trigger", { method: "POST", body: JSON.stringify({ reason: TEST_SECRETS.ADMIN_TOKEN }) }),
    );

    expect(bodies.length).toBe(9);
    expect(lines.length).toBeGreaterThan(0); // the rejections above are logged
    for (const secret of Object.values(TEST_SECRETS)) {
      for (const text of [...bodies, ...lines]) expect(text).not.toContain(secret);
    }
    expect(lines.some((l) => l.includes("signature mismatch"))).toBe(true);
    expect(lines.some((l) => l.includes("wrong token"))).toBe(true);
  });
});

/**
 * Complete incidents under a distinct value for every secret the Worker holds: one approved from the
 * dashboard and measured through a password-protected MongoDB, one automatic (a signed webhook
 * target), one whose platform refuses and echoes the token it was sent, one whose outcome is unknown
 * (the connection drops after the request went out). Then every response, log line, journal, dashboard
 * page, Slack message (every version) and outgoing request body is searched for each secret; headers
 * of an outgoing request may carry only the credential of the service they go to.
 */
describe("secrets, through complete incidents", () => {
  const sec = E2E.secrets;
  const targetSecrets = (name: string) =>
    Object.values(inject("e2eTargets").find((t) => t.target.name === name)!.secrets);

  /** Every secret value the Worker is configured with, each named for the failure message. */
  function everySecret(): Array<[string, string]> {
    const mongo = inject("e2eMongo");
    const uri = new URL(mongo.secrets.uri);
    return [
      ...Object.entries(TEST_SECRETS),
      ["SLACK_BOT_TOKEN", inject("slack").token],
      ["SLACK_SIGNING_SECRET", inject("slack").signingSecret],
      ["ATLAS_CLIENT_SECRET", inject("atlasCredentials").serviceAccount.clientSecret],
      ["NOTIFY_WEBHOOK_URL", `${inject("notifyUrl")}/hook`],
      ["the MongoDB password", decodeURIComponent(uri.password)],
      ...Object.entries(mongo).map(([name, m]): [string, string] => [`the ${name} MongoDB URI`, m.uri]),
      ...inject("e2eTargets").flatMap((t) => Object.entries(t.secrets)),
    ];
  }

  it("appear in no response, log line, journal, page, Slack message or outgoing body", async () => {
    const secrets = everySecret();
    expect(new Set(secrets.map(([, v]) => v)).size).toBe(secrets.length);
    expect(secrets.length).toBeGreaterThan(20);
    const bodies: string[] = [];
    const keep = async (response: Response) => {
      const text = await response.text();
      bodies.push(`${response.status} ${JSON.stringify([...response.headers])} ${text}`);
      return text;
    };

    // The Admin API says 440 of 500 (88 %) for the automatic clusters; the approved one is measured
    // through its own MongoDB, where a leak holds 42 of 50 until its app is redeployed.
    const processes = await atlas.project(sec.groupId, [
      { name: sec.approve, tier: "M0" },
      { name: sec.auto, tier: "M0" },
      { name: sec.fail, tier: "M0" },
      { name: sec.unknown, tier: "M0" },
    ]);
    await atlas.setConnections(
      Object.fromEntries(
        Object.values(processes)
          .flat()
          .map((p) => [p, 440]),
      ),
    );
    const leak = (await (
      await fetch(`${mongoControl.url()}/fakes/${inject("e2eMongo").secrets.id}/leaky-apps`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          app: "shop-web",
          connections: 42,
          style: "clients",
          uri: inject("e2eMongo").secrets.uri,
        }),
      })
    ).json()) as { pid: number };
    try {
      await platforms.killOnRedeploy("sec-approve", leak.pid);
      const railwayToken = targetSecrets("sec-fail")[0]!;
      await platforms.failNext(
        "railway",
        { status: 401, body: { errors: [{ message: `Not Authorized: token ${railwayToken} is invalid` }] } },
        "sec-fail",
        "redeploy",
      );
      // A timeout at the edge (524): the restart may or may not have happened.
      await platforms.failNext("heroku", 524, "sec-unknown", "restart");

      const ids: Record<string, string> = {};
      for (const [key, cluster] of [
        ["approve", sec.approve],
        ["auto", sec.auto],
        ["fail", sec.fail],
        ["unknown", sec.unknown],
      ] as const) {
        const response = await deliver(
          alertWith(M0_CONNECTIONS_OPEN, {
            id: `5ec0000000000000000000${String(Object.keys(ids).length).padStart(2, "0")}`,
            groupId: sec.groupId,
            clusterName: cluster,
            currentValue: { number: 88, units: "RAW" },
            created: new Date().toISOString(),
            updated: new Date().toISOString(),
          }),
        );
        ids[key] = (JSON.parse(await keep(response)) as { incident: string }).incident;
      }

      // Approved from the dashboard, as an operator would.
      await waitFor(ids.approve!, (i) => i.state === "awaiting-approval");
      const login = await tryLogin(TEST_SECRETS.ADMIN_TOKEN, "198.18.1.1");
      await keep(login);
      const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
      const pageHtml = await keep(await page(`/ui/incidents/${ids.approve}`, { headers: { cookie } }));
      await keep(
        await postForm(
          `/ui/incidents/${ids.approve}/decision`,
          {
            csrf: field(pageHtml, "csrf")!,
            requestedAt: field(pageHtml, "requestedAt")!,
            decision: "approve",
          },
          { cookie },
        ),
      );

      // The automatic redeploy worked: the Admin API now reports the count down.
      await waitFor(ids.auto!, (i) => steps(i).includes("action:started"));
      await atlas.setConnections(Object.fromEntries(processes[sec.auto]!.map((p) => [p, 100])));
      const done = await Promise.all(Object.values(ids).map((id) => waitFor(id, settled, 25_000)));
      const [approved, auto, failed, unknown] = done;
      expect(approved!.state).toBe("resolved");
      expect(steps(approved!)).toContain("approval:approved");
      expect(steps(auto!)).toContain("action:started");
      expect(steps(failed!)).toContain("action:failed");
      expect(steps(unknown!)).toContain("action:unknown");

      // Every way the operator reads them: the API, the dashboard.
      await keep(await admin("/incidents?limit=200"));
      for (const id of Object.values(ids)) {
        await keep(await admin(`/incidents/${id}`));
        await keep(await page(`/ui/incidents/${id}`, { headers: { cookie } }));
      }
      await keep(await page("/", { headers: { cookie } }));
      await keep(await page("/ui/incidents", { headers: { cookie } }));

      // What left the Worker: Slack (every version of every message), the notification receiver,
      // every deploy platform call.
      const slackBase = inject("slack").baseUrl;
      const { messages } = (await (await fetch(`${slackBase}/__control/messages`)).json()) as {
        messages: Array<{ ts: string }>;
      };
      const slackSent = [JSON.stringify(messages)];
      for (const m of messages)
        slackSent.push(
          await (await fetch(`${slackBase}/__control/history?ts=${encodeURIComponent(m.ts)}`)).text(),
        );
      const notified = (
        (await (await fetch(`${inject("notifyUrl")}/__control/requests`)).json()) as {
          requests: Array<{ headers: Record<string, string>; body: string }>;
        }
      ).requests;
      expect(notified.length).toBeGreaterThan(0);
      const received = (
        (await (await fetch(`${inject("platformsUrl")}/__control/received`)).json()) as {
          received: Array<{ target: string | null; headers: Record<string, string>; body: string }>;
        }
      ).received;
      const ours = received.filter((r) => r.target?.startsWith("sec-"));
      expect(new Set(ours.map((r) => r.target))).toEqual(
        new Set(["sec-approve", "sec-auto", "sec-fail", "sec-unknown"]),
      );

      const texts: Array<[string, string]> = [
        ...bodies.map((b): [string, string] => ["a response", b]),
        ...lines.map((l): [string, string] => ["a log line", l]),
        ...slackSent.map((s): [string, string] => ["a Slack message", s]),
        ...notified.map((n): [string, string] => [
          "a notification",
          `${JSON.stringify(n.headers)} ${n.body}`,
        ]),
        ...received.map((r): [string, string] => [`a body sent to ${r.target}`, r.body]),
      ];
      expect(lines.length).toBeGreaterThan(0);
      for (const [name, secret] of secrets) {
        for (const [where, text] of texts) expect(text, `${name} in ${where}`).not.toContain(secret);
      }
      // A platform call's headers carry that target's own credential, and no other secret.
      for (const call of received) {
        const own = new Set(call.target ? targetSecrets(call.target) : []);
        const headers = JSON.stringify(call.headers);
        for (const [name, secret] of secrets) {
          if (!own.has(secret))
            expect(headers, `${name} in a header sent to ${call.target}`).not.toContain(secret);
        }
      }
      // The refused call's echo of its token was redacted before the journal kept it.
      const refusal = failed!.journal.find((j) => j.step === "action" && j.status === "failed")!;
      expect(refusal.detail).toMatchObject({
        status: 401,
        detail: expect.stringContaining("token [redacted] is invalid"),
      });
    } finally {
      await mongoControl.kill(leak.pid).catch(() => undefined);
    }
  }, 40_000);
});
