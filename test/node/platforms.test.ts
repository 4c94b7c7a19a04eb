/**
 * The redeploy adapters against the honest fake platforms (fakes/platforms.ts) over real HTTP,
 * with the Node-side fetch the CLIs inject. The fake enforces each platform's request shape, auth and
 * limits, so "started" here means the request was what the platform documents.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FakePlatforms,
  type FakeRedeployEvent,
  type FakeTargetOptions,
  type FakeTargetSetup,
  startFakePlatforms,
} from "../../fakes/platforms.ts";
import { parseConfig, type TargetKind } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/errors.ts";
import { createNodeFetch, type NodeFetch } from "../../src/outbound/node-fetch.ts";
import { createRedeployAdapter } from "../../src/platforms/index.ts";
import { verdictForStatus } from "../../src/platforms/outcome.ts";
import type { RedeployAdapter, RedeployOutcome, RedeployRequest } from "../../src/platforms/types.ts";

let fake: FakePlatforms;
let node: NodeFetch;

/** Every secret value issued in this file, and everything the adapters said: searched at the end. */
const issuedSecrets = new Set<string>();
const said: string[] = [];

beforeAll(async () => {
  fake = await startFakePlatforms();
  node = createNodeFetch();
});
afterAll(async () => {
  await node.close();
  await fake.close();
});

let counter = 0;
const uniqueName = (kind: string) => `${kind}-${++counter}`;

function setupFor(kind: TargetKind, options?: FakeTargetOptions): FakeTargetSetup {
  const setup = fake.target(kind, uniqueName(kind), options);
  for (const value of Object.values(setup.secrets)) issuedSecrets.add(value);
  return setup;
}

function adapterFor(
  setup: FakeTargetSetup,
  options: { timeoutMs?: number; secrets?: Record<string, string> } = {},
): RedeployAdapter {
  const secrets = { ...setup.secrets, ...options.secrets };
  for (const value of Object.values(secrets)) issuedSecrets.add(value);
  const adapter = createRedeployAdapter({
    target: setup.target,
    secrets: (name) => {
      const value = secrets[name];
      if (value === undefined) throw new Error(`no secret ${name}`);
      return value;
    },
    fetch: node.fetch,
    timeoutMs: options.timeoutMs ?? 3_000,
  });
  // Record everything the adapter shows, for the final no-secret check.
  return {
    target: adapter.target,
    plan(request) {
      const plan = adapter.plan(request);
      said.push(JSON.stringify(plan));
      return plan;
    },
    async deployInProgress() {
      return adapter.deployInProgress();
    },
    async redeploy(request) {
      const outcome = await adapter.redeploy(request);
      said.push(JSON.stringify(outcome));
      return outcome;
    },
  };
}

let incident = 0;
function request(overrides: Partial<RedeployRequest> = {}): RedeployRequest {
  const id = `inc-${++incident}`;
  return {
    incidentId: id,
    reason: "connections at 91% of 500 on Cluster0",
    idempotencyKey: `${id}:1`,
    ...overrides,
  };
}

function collect(target: string): FakeRedeployEvent[] {
  const events: FakeRedeployEvent[] = [];
  fake.onRedeploy(target, (event) => {
    events.push(event);
  });
  return events;
}

/** Replaces the secret a target names with `value`. */
const withSecret = (setup: FakeTargetSetup, value: string) => ({ [setup.target.secret]: value });

const callsOf = (setup: FakeTargetSetup) => fake.calls({ target: setup.target.name });

describe("each platform: the documented request, and `started`", () => {
  it("vercel: POST to the deploy hook, job id as deployId", async () => {
    const setup = setupFor("vercel");
    const events = collect(setup.target.name);
    const adapter = adapterFor(setup);
    const outcome = await adapter.redeploy(request());
    expect(outcome).toMatchObject({ kind: "started", deployId: expect.stringMatching(/^[A-Za-z0-9]{20}$/) });
    expect(outcome.detail).toContain("vercel deploy hook");
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({
        platform: "vercel",
        method: "POST",
        path: expect.stringMatching(/^\/v1\/integrations\/deploy\/prj_[A-Za-z0-9]{28}\/\{key\}$/),
        status: 201,
        accepted: true,
      }),
    ]);
    expect(events).toEqual([expect.objectContaining({ platform: "vercel", action: "redeploy" })]);
    expect(adapter.plan(request())).toEqual({
      target: setup.target.name,
      kind: "vercel",
      action: "redeploy (deploy hook, rebuilds)",
      method: "POST",
      endpoint: `vercel deploy hook (${setup.target.name})`,
    });
  });

  it("render hook: POST /deploy/srv-…?key=…, deploy id as deployId", async () => {
    const setup = setupFor("render");
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome).toMatchObject({ kind: "started", deployId: expect.stringMatching(/^dep-[a-z0-9]{20}$/) });
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({
        method: "POST",
        path: expect.stringMatching(/^\/deploy\/srv-[a-z0-9]{20}$/),
        status: 200,
      }),
    ]);
    expect(adapterFor(setup).plan(request()).endpoint).toBe(`render deploy hook (${setup.target.name})`);
  });

  it("render API: POST /v1/services/{id}/restart with Bearer → 202", async () => {
    const setup = setupFor("render", { api: true });
    const serviceId = setup.target.kind === "render" ? setup.target.serviceId : "";
    const events = collect(setup.target.name);
    const adapter = adapterFor(setup);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({
        method: "POST",
        path: `/v1/services/${serviceId}/restart`,
        status: 202,
        action: "restart",
      }),
    ]);
    expect(events).toEqual([expect.objectContaining({ action: "restart" })]);
    expect(adapter.plan(request())).toMatchObject({
      method: "POST",
      action: "restart (no rebuild)",
      endpoint: `${fake.baseUrl}/v1/services/${serviceId}/restart`,
    });
  });

  it("railway: the serviceInstanceRedeploy mutation with variables and Bearer", async () => {
    const setup = setupFor("railway");
    const adapter = adapterFor(setup);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({
        platform: "railway",
        method: "POST",
        path: "/graphql/v2",
        action: "redeploy",
        status: 200,
        accepted: true,
      }),
    ]);
    const target = setup.target.kind === "railway" ? setup.target : undefined;
    expect(adapter.plan(request()).endpoint).toBe(
      `${fake.baseUrl}/graphql/v2 serviceInstanceRedeploy(environmentId: ${target?.environmentId}, serviceId: ${target?.serviceId})`,
    );
  });

  it("netlify: POST the build hook with a trigger_title naming the incident", async () => {
    const setup = setupFor("netlify");
    const outcome = await adapterFor(setup).redeploy(request({ incidentId: "inc-netlify-7" }));
    expect(outcome).toMatchObject({ kind: "started" });
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({
        method: "POST",
        path: "/build_hooks/{id}",
        status: 200,
        triggerTitle: "atlas-responder inc-netlify-7: connections at 91% of 500 on Cluster0",
      }),
    ]);
  });

  it("fly without machines: lists them, then restarts each started machine in turn", async () => {
    const setup = setupFor("fly", { machines: 3 });
    const events = collect(setup.target.name);
    const app = setup.target.kind === "fly" ? setup.target.app : "";
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome.kind).toBe("started");
    const calls = callsOf(setup);
    expect(calls.map((c) => `${c.method} ${c.action} ${c.status}`)).toEqual([
      "GET list-machines 200",
      "POST restart 200",
      "POST restart 200",
      "POST restart 200",
    ]);
    expect(calls[1]!.path).toMatch(new RegExp(`^/v1/apps/${app}/machines/[0-9a-f]{14}/restart$`));
    expect(new Set(events.map((e) => e.machine)).size).toBe(3);
    expect(outcome.detail).toMatch(/restarted [0-9a-f]{14}, [0-9a-f]{14}, [0-9a-f]{14}$/);
  });

  it("fly with pinned machines and a FlyV1 token: restarts only those, no list", async () => {
    const setup = setupFor("fly", { machines: 2, pinMachines: true, macaroon: true });
    const adapter = adapterFor(setup);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup).map((c) => c.action)).toEqual(["restart", "restart"]);
    const machines = setup.target.kind === "fly" ? setup.target.machines! : [];
    expect(adapter.plan(request()).endpoint).toBe(
      `${fake.baseUrl}/v1/apps/${setup.target.kind === "fly" ? setup.target.app : ""}/machines/{${machines.join(",")}}/restart`,
    );
  });

  it("heroku: DELETE /apps/{app}/dynos with the version Accept header → 202", async () => {
    const setup = setupFor("heroku");
    const app = setup.target.kind === "heroku" ? setup.target.app : "";
    const adapter = adapterFor(setup);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({ method: "DELETE", path: `/apps/${app}/dynos`, status: 202 }),
    ]);
    expect(adapter.plan(request())).toMatchObject({
      method: "DELETE",
      endpoint: `${fake.baseUrl}/apps/${app}/dynos`,
    });
  });

  it("heroku with a dyno: DELETE /apps/{app}/dynos/{dyno}", async () => {
    const setup = setupFor("heroku", { dyno: "web.1" });
    const events = collect(setup.target.name);
    expect(await adapterFor(setup).redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup)[0]).toMatchObject({
      path: expect.stringMatching(/\/dynos\/web\.1$/),
      dyno: "web.1",
      status: 202,
    });
    expect(events).toEqual([expect.objectContaining({ action: "restart", dyno: "web.1" })]);
  });

  it("heroku with a processType: DELETE /apps/{app}/formations/{type}, as `heroku ps:restart web`", async () => {
    const setup = setupFor("heroku", { processType: "web" });
    const app = setup.target.kind === "heroku" ? setup.target.app : "";
    const events = collect(setup.target.name);
    const adapter = adapterFor(setup);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup)).toEqual([
      expect.objectContaining({
        method: "DELETE",
        path: `/apps/${app}/formations/web`,
        processType: "web",
        status: 202,
      }),
    ]);
    expect(events).toEqual([expect.objectContaining({ action: "restart", processType: "web" })]);
    expect(adapter.plan(request())).toMatchObject({
      method: "DELETE",
      endpoint: `${fake.baseUrl}/apps/${app}/formations/web`,
    });
  });

  it("heroku with an unknown processType: the formation's 404 is a failure", async () => {
    const setup = setupFor("heroku", { processType: "worker" });
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 404, code: "not_found" });
    expect(callsOf(setup)[0]).toMatchObject({ path: expect.stringMatching(/\/formations\/worker$/) });
  });

  it("heroku (the fake itself): a process type is not a dyno name on the dyno endpoint", async () => {
    const setup = setupFor("heroku");
    const app = setup.target.kind === "heroku" ? setup.target.app : "";
    const headers = {
      authorization: `Bearer ${setup.secrets[setup.target.secret]}`,
      accept: "application/vnd.heroku+json; version=3",
    };
    const asDyno = await fetch(`${fake.baseUrl}/apps/${app}/dynos/web`, { method: "DELETE", headers });
    expect(asDyno.status).toBe(404);
    const asFormation = await fetch(`${fake.baseUrl}/apps/${app}/formations/web`, {
      method: "DELETE",
      headers,
    });
    expect(asFormation.status).toBe(202);
    const noAccept = await fetch(`${fake.baseUrl}/apps/${app}/formations/web`, {
      method: "DELETE",
      headers: { authorization: headers.authorization },
    });
    expect(noAccept.status).toBe(406);
    const noAuth = await fetch(`${fake.baseUrl}/apps/${app}/formations/web`, {
      method: "DELETE",
      headers: { accept: headers.accept },
    });
    expect(noAuth.status).toBe(401);
  });

  it("heroku: dyno and processType together are a config error naming processType", () => {
    const problems = (() => {
      try {
        parseConfig({
          ATLAS_WEBHOOK_SECRET: "whsec-value-1234",
          HEROKU_KEY: "heroku-key-value",
          TARGETS: JSON.stringify([
            {
              kind: "heroku",
              name: "api",
              secret: "HEROKU_KEY",
              app: "api",
              dyno: "web.1",
              processType: "web",
            },
          ]),
        });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(problems).toEqual([{ key: "TARGETS[0].processType", message: expect.stringContaining("dyno") }]);
  });

  it("webhook: POST JSON with Idempotency-Key; a repeated key is not acted on twice", async () => {
    const setup = setupFor("webhook");
    const events = collect(setup.target.name);
    const adapter = adapterFor(setup);
    const first = await adapter.redeploy(request({ idempotencyKey: "inc-w:web:1" }));
    expect(first).toMatchObject({ kind: "started", deployId: expect.stringMatching(/^evt_/) });
    const again = await adapter.redeploy(request({ idempotencyKey: "inc-w:web:1" }));
    expect(again).toMatchObject({
      kind: "started",
      deployId: first.kind === "started" ? first.deployId : "",
    });
    expect(callsOf(setup).map((c) => [c.status, c.idempotencyKey])).toEqual([
      [202, "inc-w:web:1"],
      [200, "inc-w:web:1"],
    ]);
    expect(events).toHaveLength(1);
  });

  it("signed webhook: the fake verifies the HMAC and the timestamp", async () => {
    const setup = setupFor("webhook", { signed: true });
    const adapter = adapterFor(setup);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "started" });
    expect(callsOf(setup)).toEqual([expect.objectContaining({ status: 202, signatureValid: true })]);
    expect(adapter.plan(request()).action).toBe("redeploy (signed webhook)");
  });
});

describe("refusals are `failed` with the platform's status and code", () => {
  it("vercel: a wrong hook key → 404 not_found", async () => {
    const setup = setupFor("vercel");
    const url = setup.secrets[setup.target.secret]!;
    const wrong = `${url.slice(0, url.lastIndexOf("/") + 1)}WrongKey99`;
    const outcome = await adapterFor(setup, { secrets: withSecret(setup, wrong) }).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 404, code: "not_found" });
    expect(outcome.detail).toContain("The deploy hook could not be found.");
  });

  it("render hook: a wrong key → 401", async () => {
    const setup = setupFor("render");
    const wrong = setup.secrets[setup.target.secret]!.replace(/key=.*/, "key=wrongwrongkey");
    const outcome = await adapterFor(setup, { secrets: withSecret(setup, wrong) }).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 401, code: "unauthorized" });
  });

  it("render API: a wrong key → 401", async () => {
    const setup = setupFor("render", { api: true });
    const outcome = await adapterFor(setup, {
      secrets: withSecret(setup, "rnd_not-the-key-0000000"),
    }).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 401 });
  });

  it.each([
    ["account", "authorization"],
    ["workspace", "authorization"],
    ["project", "project-access-token"],
  ] as const)("railway with a %s token: sent in %s, and started", async (tokenKind, header) => {
    const setup = setupFor("railway", { tokenKind });
    expect(setup.target).toMatchObject({ tokenKind });
    const seen: IncomingHttpHeaders[] = [];
    const outcome = await createRedeployAdapter({
      target: setup.target,
      secrets: (name) => setup.secrets[name]!,
      fetch: async (input, init) => {
        seen.push(Object.fromEntries(new Headers(init?.headers).entries()));
        return node.fetch(input, init);
      },
    }).redeploy(request());
    expect(outcome).toMatchObject({ kind: "started" });
    const token = setup.secrets[setup.target.secret]!;
    expect(seen[0]?.[header]).toBe(header === "authorization" ? `Bearer ${token}` : token);
    const other = header === "authorization" ? "project-access-token" : "authorization";
    expect(seen[0]?.[other]).toBeUndefined();
  });

  it.each([
    ["project", "account"],
    ["account", "project"],
    ["workspace", "project"],
  ] as const)(
    "railway: a %s token configured as %s goes under the wrong header → Not Authorized",
    async (issued, configured) => {
      const setup = setupFor("railway", { tokenKind: issued });
      const misconfigured = {
        ...setup,
        target: { ...setup.target, tokenKind: configured } as FakeTargetSetup["target"],
      };
      const outcome = await adapterFor(misconfigured).redeploy(request());
      expect(outcome.kind).toBe("failed");
      expect(outcome.detail).toContain("Not Authorized");
      expect(callsOf(setup)).toEqual([expect.objectContaining({ status: 200, accepted: false })]);
    },
  );

  it("railway: tokenKind defaults to account and is one of the three kinds", () => {
    const base = {
      ATLAS_WEBHOOK_SECRET: "whsec-value-1234",
      RAILWAY_TOKEN: "railway-token-value",
    };
    const railway = {
      kind: "railway",
      name: "api",
      secret: "RAILWAY_TOKEN",
      serviceId: "s",
      environmentId: "e",
    };
    const parsed = parseConfig({ ...base, TARGETS: JSON.stringify([railway]) });
    expect(parsed.targets[0]).toMatchObject({ tokenKind: "account" });
    expect(() =>
      parseConfig({ ...base, TARGETS: JSON.stringify([{ ...railway, tokenKind: "team" }]) }),
    ).toThrow(ConfigError);
  });

  it("railway: a wrong token → HTTP 200 with errors → failed, never started", async () => {
    const setup = setupFor("railway");
    const outcome = await adapterFor(setup, { secrets: withSecret(setup, crypto.randomUUID()) }).redeploy(
      request(),
    );
    expect(outcome.kind).toBe("failed");
    expect(outcome.detail).toContain("Not Authorized");
    expect(callsOf(setup)).toEqual([expect.objectContaining({ status: 200, accepted: false })]);
  });

  it("railway: another project's token → Not Authorized; an unknown service → not found", async () => {
    const mine = setupFor("railway");
    const other = setupFor("railway");
    const foreign = await adapterFor(mine, {
      secrets: withSecret(mine, other.secrets[other.target.secret]!),
    }).redeploy(request());
    expect(foreign).toMatchObject({ kind: "failed" });
    expect(foreign.detail).toContain("Not Authorized");
    const gone = adapterFor({
      ...mine,
      target: {
        ...mine.target,
        serviceId: "00000000-0000-4000-8000-000000000000",
      } as FakeTargetSetup["target"],
    });
    const missing = await gone.redeploy(request());
    expect(missing).toMatchObject({ kind: "failed" });
    expect(missing.detail).toContain("ServiceInstance not found");
  });

  it("railway: `false` is failed; a 2xx without data or errors is unknown", async () => {
    const setup = setupFor("railway");
    fake.failNext(
      "railway",
      { status: 200, body: { data: { serviceInstanceRedeploy: false } } },
      { target: setup.target.name },
    );
    expect(await adapterFor(setup).redeploy(request())).toMatchObject({ kind: "failed" });
    fake.failNext("railway", { status: 200, body: { data: null } }, { target: setup.target.name });
    expect(await adapterFor(setup).redeploy(request())).toMatchObject({ kind: "unknown" });
  });

  it("netlify: an unknown hook → 404", async () => {
    const setup = setupFor("netlify");
    const wrong = `${fake.baseUrl}/build_hooks/000000000000000000000000`;
    const outcome = await adapterFor(setup, { secrets: withSecret(setup, wrong) }).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 404 });
  });

  it("fly: a wrong token → 401 on restart; when listing, nothing is restarted", async () => {
    const pinned = setupFor("fly", { pinMachines: true, machines: 1 });
    const outcome = await adapterFor(pinned, { secrets: withSecret(pinned, "fo1_wrong") }).redeploy(
      request(),
    );
    expect(outcome).toMatchObject({ kind: "failed", status: 401 });

    const listed = setupFor("fly");
    const listFailure = await adapterFor(listed, { secrets: withSecret(listed, "fo1_wrong") }).redeploy(
      request(),
    );
    expect(listFailure.kind).toBe("failed");
    expect(listFailure.detail).toMatch(/could not list machines .*401.*nothing was restarted/);
    expect(callsOf(listed).map((c) => c.action)).toEqual(["list-machines"]);
  });

  it("fly: an empty machine list restarts nothing and says so", async () => {
    const setup = setupFor("fly");
    const empty = { ...setup, target: { ...setup.target, machines: [] } };
    const outcome = await adapterFor(empty).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed" });
    expect(outcome.detail).toContain("no started machines to restart");
    expect(callsOf(setup)).toEqual([]);
  });

  it("heroku: a wrong key → 401 unauthorized", async () => {
    const setup = setupFor("heroku");
    const outcome = await adapterFor(setup, { secrets: withSecret(setup, crypto.randomUUID()) }).redeploy(
      request(),
    );
    expect(outcome).toMatchObject({ kind: "failed", status: 401, code: "unauthorized" });
    expect(outcome.detail).toContain("Invalid credentials provided.");
  });

  it("heroku (the fake itself): no version Accept header → 406 not_acceptable", async () => {
    const setup = setupFor("heroku");
    const app = setup.target.kind === "heroku" ? setup.target.app : "";
    const response = await fetch(`${fake.baseUrl}/apps/${app}/dynos`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${setup.secrets[setup.target.secret]}` },
    });
    expect(response.status).toBe(406);
    expect(await response.json()).toMatchObject({ id: "not_acceptable" });
  });

  it("webhook: a wrong signing secret → 401 from the receiver", async () => {
    const setup = setupFor("webhook", { signed: true });
    const signingName = setup.target.kind === "webhook" ? setup.target.signingSecret! : "";
    const outcome = await adapterFor(setup, {
      secrets: { [signingName]: "whsig_wrong_wrong_wrong" },
    }).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 401 });
    expect(callsOf(setup)).toEqual([expect.objectContaining({ signatureValid: false })]);
  });

  it("a secret that is not a URL, or plain http to a non-loopback host, is refused before sending", async () => {
    const setup = setupFor("vercel");
    const notUrl = await adapterFor(setup, { secrets: withSecret(setup, "not a url at all") }).redeploy(
      request(),
    );
    expect(notUrl).toMatchObject({ kind: "failed" });
    expect(notUrl.detail).toContain(`secret ${setup.target.secret} does not hold an http(s) URL`);
    expect(notUrl.detail).not.toContain("not a url at all");

    const cleartext = await adapterFor(setup, {
      secrets: withSecret(setup, "http://hooks.example.invalid/v1/integrations/deploy/prj_x/abcdefghij"),
    }).redeploy(request());
    expect(cleartext).toMatchObject({ kind: "failed" });
    expect(cleartext.detail).toContain("plain http");
    expect(callsOf(setup)).toEqual([]);
  });
});

describe("ambiguous answers are `unknown`, and nothing is ever retried", () => {
  const allKinds: [TargetKind, FakeTargetOptions][] = [
    ["vercel", {}],
    ["render", {}],
    ["render", { api: true }],
    ["railway", {}],
    ["netlify", {}],
    ["fly", { pinMachines: true, machines: 2 }],
    ["heroku", {}],
    ["webhook", { signed: true }],
  ];

  it.each(allKinds)("%s %o: a timeout after sending → unknown, exactly one call", async (kind, options) => {
    const setup = setupFor(kind, options);
    const events = collect(setup.target.name);
    fake.failNext(kind, "timeout", { target: setup.target.name });
    const started = Date.now();
    const outcome = await adapterFor(setup, { timeoutMs: 300 }).redeploy(request());
    expect(outcome.kind).toBe("unknown");
    expect(outcome.detail).toMatch(/no answer within 300 ms|unknown/);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Fly: the second machine is left alone once the first is in doubt.
    expect(callsOf(setup)).toEqual([expect.objectContaining({ fault: "timeout", status: null })]);
    expect(events).toEqual([]);
  });

  it.each(allKinds)("%s %o: 502 from a gateway → unknown", async (kind, options) => {
    const setup = setupFor(kind, options);
    fake.failNext(kind, 502, { target: setup.target.name });
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome.kind).toBe("unknown");
    expect(callsOf(setup)).toHaveLength(1);
  });

  it.each(allKinds)("%s %o: a connection reset after sending → unknown", async (kind, options) => {
    const setup = setupFor(kind, options);
    fake.failNext(kind, "reset", { target: setup.target.name });
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome.kind).toBe("unknown");
    expect(callsOf(setup)).toEqual([expect.objectContaining({ fault: "reset" })]);
  });

  it("500 and 504 → unknown; 503 → failed with its status; 429 → failed with Retry-After in the detail", async () => {
    const setup = setupFor("render", { api: true });
    const adapter = adapterFor(setup);
    const target = { target: setup.target.name };
    fake.failNext("render", 500, target);
    expect((await adapter.redeploy(request())).kind).toBe("unknown");
    fake.failNext("render", 504, target);
    expect((await adapter.redeploy(request())).kind).toBe("unknown");
    fake.failNext("render", 503, target);
    expect(await adapter.redeploy(request())).toMatchObject({ kind: "failed", status: 503 });
    fake.failNext("render", 429, target);
    const limited = await adapter.redeploy(request());
    expect(limited).toMatchObject({ kind: "failed", status: 429, code: "rate_limit" });
    expect(limited.detail).toContain("retry after 30 s");
    expect(callsOf(setup)).toHaveLength(4);
  });

  it("the classification table", () => {
    const table: [number, RedeployOutcome["kind"]][] = [
      [200, "started"],
      [201, "started"],
      [202, "started"],
      [204, "started"],
      [302, "failed"],
      [400, "failed"],
      [401, "failed"],
      [403, "failed"],
      [404, "failed"],
      [408, "unknown"],
      [409, "failed"],
      [429, "failed"],
      [500, "unknown"],
      [501, "failed"],
      [502, "unknown"],
      [503, "failed"],
      [504, "unknown"],
      [520, "unknown"],
      [521, "failed"],
      [522, "failed"],
      [524, "unknown"],
    ];
    for (const [status, kind] of table) expect([status, verdictForStatus(status)]).toEqual([status, kind]);
  });

  it("a redirect is not followed: failed, one call", async () => {
    const setup = setupFor("netlify");
    const before = fake.calls().length;
    fake.failNext(
      "netlify",
      { status: 302, headers: { location: `${fake.baseUrl}/build_hooks/elsewhere` } },
      { target: setup.target.name },
    );
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome).toMatchObject({ kind: "failed", status: 302 });
    expect(outcome.detail).toContain("redirects are not followed");
    expect(fake.calls().length - before).toBe(1);
  });

  it("a refused connection (nothing sent) → failed", async () => {
    const closed = await startFakePlatforms();
    const deadOrigin = closed.baseUrl;
    await closed.close();
    const hook = setupFor("vercel");
    const deadHook = hook.secrets[hook.target.secret]!.replace(fake.baseUrl, deadOrigin);
    const viaHook = await adapterFor(hook, { secrets: withSecret(hook, deadHook) }).redeploy(request());
    expect(viaHook).toMatchObject({ kind: "failed" });
    expect(viaHook.detail).toContain("connection refused (ECONNREFUSED); nothing was sent");

    const api = setupFor("heroku");
    const viaApi = await adapterFor({ ...api, target: { ...api.target, apiBaseUrl: deadOrigin } }).redeploy(
      request(),
    );
    expect(viaApi).toMatchObject({ kind: "failed" });
    expect(viaApi.detail).toContain("ECONNREFUSED");
  });
});

describe("documented rate limits", () => {
  it("render deploy hooks: the 11th call within a minute → 429 failed", async () => {
    const setup = setupFor("render");
    const adapter = adapterFor(setup);
    const outcomes: RedeployOutcome[] = [];
    for (let i = 0; i < 11; i++) outcomes.push(await adapter.redeploy(request()));
    expect(outcomes.slice(0, 10).every((o) => o.kind === "started")).toBe(true);
    expect(outcomes[10]).toMatchObject({ kind: "failed", status: 429 });
  });

  it("fly: a 4th restart of one machine within a second → 429 failed", async () => {
    const setup = setupFor("fly", { pinMachines: true, machines: 1 });
    const adapter = adapterFor(setup);
    const kinds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const outcome = await adapter.redeploy(request());
      kinds.push(outcome.kind === "failed" ? `failed ${outcome.status}` : outcome.kind);
    }
    expect(kinds).toEqual(["started", "started", "started", "failed 429"]);
  });

  it("fly: a machine that fails does not spare the next one; the outcome names both", async () => {
    const setup = setupFor("fly", { pinMachines: true, machines: 2 });
    fake.failNext("fly", 429, { target: setup.target.name, action: "restart" });
    const outcome = await adapterFor(setup).redeploy(request());
    expect(outcome.kind).toBe("started");
    expect(outcome.detail).toMatch(
      /restarted [0-9a-f]{14}; machine [0-9a-f]{14} answered 429: Too many requests \(injected\); retry after 30 s$/,
    );
    expect(callsOf(setup).map((c) => c.status)).toEqual([429, 200]);
  });
});

describe("deployInProgress", () => {
  it("hook-only targets cannot tell: null", async () => {
    for (const [kind, options] of [
      ["vercel", {}],
      ["render", {}],
      ["netlify", {}],
      ["webhook", {}],
    ] as [TargetKind, FakeTargetOptions][]) {
      const setup = setupFor(kind, options);
      expect([kind, await adapterFor(setup).deployInProgress()]).toEqual([kind, null]);
      expect(callsOf(setup)).toEqual([]);
    }
  });

  it.each([
    ["render", { api: true }, "list-deploys"],
    ["railway", {}, "deployments"],
    ["fly", {}, "list-machines"],
    ["heroku", {}, "list-builds"],
  ] as [TargetKind, FakeTargetOptions, string][])(
    "%s: false, then true while a deploy runs",
    async (kind, options, action) => {
      const setup = setupFor(kind, options);
      const adapter = adapterFor(setup);
      expect(await adapter.deployInProgress()).toBe(false);
      fake.setInProgress(setup.target.name, true);
      expect(await adapter.deployInProgress()).toBe(true);
      fake.setInProgress(setup.target.name, false);
      expect(await adapter.deployInProgress()).toBe(false);
      expect(callsOf(setup).map((c) => c.action)).toEqual([action, action, action]);
    },
  );

  it("a failing read answers null and never throws; a 503 read is retried", async () => {
    const heroku = setupFor("heroku");
    expect(
      await adapterFor(heroku, { secrets: withSecret(heroku, crypto.randomUUID()) }).deployInProgress(),
    ).toBeNull();

    const railway = setupFor("railway");
    expect(
      await adapterFor(railway, { secrets: withSecret(railway, crypto.randomUUID()) }).deployInProgress(),
    ).toBeNull();

    const render = setupFor("render", { api: true });
    fake.failNext("render", "timeout", { target: render.target.name });
    expect(await adapterFor(render, { timeoutMs: 200 }).deployInProgress()).toBeNull();

    const fly = setupFor("fly");
    fake.failNext("fly", 503, { target: fly.target.name });
    fake.setInProgress(fly.target.name, true);
    expect(await adapterFor(fly).deployInProgress()).toBe(true);
    expect(callsOf(fly).map((c) => c.status)).toEqual([503, 200]);

    const closed = await startFakePlatforms();
    await closed.close();
    const dead = setupFor("render", { api: true });
    const deadTarget = { ...dead, target: { ...dead.target, apiBaseUrl: closed.baseUrl } };
    expect(await adapterFor(deadTarget).deployInProgress()).toBeNull();
  });
});

describe("the webhook signature, verified independently with node:crypto", () => {
  it('is sha256=hex(HMAC-SHA256(secret, timestamp + "." + raw body)) with a current timestamp', async () => {
    let captured: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        captured = { headers: req.headers, body: Buffer.concat(chunks) };
        res.writeHead(202, { "content-type": "application/json" }).end('{"id":"rcv_1"}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as { port: number };
    const signingSecret = "whsig_independent_check_5d1e";
    const url = `http://127.0.0.1:${port}/receive/abcdef123456`;
    try {
      const adapter = createRedeployAdapter({
        target: {
          kind: "webhook",
          name: "deployer",
          secret: "DEPLOYER_URL",
          signingSecret: "DEPLOYER_SIGNING",
          clusters: [],
          appNames: [],
          envNames: [],
        },
        secrets: (name) => (name === "DEPLOYER_URL" ? url : signingSecret),
        fetch: node.fetch,
      });
      const outcome = await adapter.redeploy({
        incidentId: "inc-sig",
        reason: "connections at 95%",
        idempotencyKey: "inc-sig:deployer:1",
      });
      expect(outcome).toEqual({
        kind: "started",
        detail: "webhook (deployer) accepted (202): rcv_1",
        deployId: "rcv_1",
      });
      const { headers, body } = captured!;
      const timestamp = headers["x-atlas-responder-timestamp"] as string;
      expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(5);
      const expected = createHmac("sha256", signingSecret)
        .update(`${timestamp}.${body.toString("utf8")}`)
        .digest("hex");
      expect(headers["x-atlas-responder-signature"]).toBe(`sha256=${expected}`);
      expect(headers["idempotency-key"]).toBe("inc-sig:deployer:1");
      expect(headers["content-type"]).toBe("application/json");
      expect(JSON.parse(body.toString("utf8"))).toEqual({
        event: "atlas-responder.redeploy",
        incidentId: "inc-sig",
        target: "deployer",
        reason: "connections at 95%",
        idempotencyKey: "inc-sig:deployer:1",
        sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});

describe("secrets never appear in what the adapters say", () => {
  it("a platform error that echoes the hook URL or the token is redacted", async () => {
    const hook = setupFor("vercel");
    const hookUrl = hook.secrets[hook.target.secret]!;
    const key = hookUrl.slice(hookUrl.lastIndexOf("/") + 1);
    fake.failNext(
      "vercel",
      {
        status: 400,
        body: { error: { code: "bad_request", message: `hook ${hookUrl} rejected; key ${key} is disabled` } },
      },
      { target: hook.target.name },
    );
    const echoed = await adapterFor(hook).redeploy(request());
    expect(echoed).toMatchObject({ kind: "failed", status: 400, code: "bad_request" });
    expect(echoed.detail).not.toContain(key);
    expect(echoed.detail).not.toContain(fake.baseUrl);
    expect(echoed.detail).toContain("hook [redacted] rejected; key [redacted] is disabled");

    const api = setupFor("heroku");
    const token = api.secrets[api.target.secret]!;
    fake.failNext(
      "heroku",
      { status: 401, body: { id: "unauthorized", message: `Bearer ${token} is not valid` } },
      { target: api.target.name },
    );
    const tokenEcho = await adapterFor(api).redeploy(request());
    expect(tokenEcho.detail).not.toContain(token);
    expect(tokenEcho.detail).toContain("Bearer [redacted] is not valid");
  });

  it("no secret value (nor a hook key) is in any outcome or plan produced in this file", () => {
    expect(said.length).toBeGreaterThan(60);
    const parts = new Set<string>();
    for (const secret of issuedSecrets) {
      parts.add(secret);
      if (/^https?:\/\//.test(secret)) {
        const url = new URL(secret);
        const last = url.pathname.split("/").pop()!;
        if (last.length >= 8) parts.add(last);
        for (const value of url.searchParams.values()) parts.add(value);
      }
    }
    const text = said.join("\n");
    for (const part of parts) expect(text, "a secret leaked into an outcome or plan").not.toContain(part);
  });
});
