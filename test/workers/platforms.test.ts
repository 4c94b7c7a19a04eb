/**
 * The redeploy adapters inside workerd, with the runtime's own `fetch`, against the fake platforms
 * run by the Node-side global setup (test/workers/setup/platforms.global.ts). Proves the Worker's
 * path — WebCrypto signing, AbortSignal timeouts, `redirect: "manual"`, workerd's network errors —
 * classifies outcomes the same way the Node tests show.
 */
import { describe, expect, inject, it } from "vitest";
import type { FakeCall, FakeTargetOptions, FakeTargetSetup, Fault } from "../../fakes/platforms.ts";
import type { TargetKind } from "../../src/config/schema.ts";
import { createRedeployAdapter } from "../../src/platforms/index.ts";
import type { RedeployAdapter, RedeployRequest } from "../../src/platforms/types.ts";

const FAKE = inject("platformsUrl");
/** Target names are unique per run and file: the fake is shared by every workerd test file. */
const RUN = crypto.randomUUID().slice(0, 8);
let counter = 0;

const issuedSecrets = new Set<string>();
const said: string[] = [];

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${FAKE}/__control${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${payload.error}`);
  return payload;
}

async function register(kind: TargetKind, options: FakeTargetOptions = {}): Promise<FakeTargetSetup> {
  const setup = await control<FakeTargetSetup>("POST", "/targets", {
    kind,
    name: `w-${kind}-${RUN}-${++counter}`,
    options,
  });
  for (const value of Object.values(setup.secrets)) issuedSecrets.add(value);
  return setup;
}

const failNext = (platform: TargetKind, fault: Fault, target: string) =>
  control("POST", "/fail-next", { platform, fault, target });

async function callsOf(setup: FakeTargetSetup): Promise<FakeCall[]> {
  const { calls } = await control<{ calls: FakeCall[] }>(
    "GET",
    `/calls?target=${encodeURIComponent(setup.target.name)}`,
  );
  return calls;
}

function adapterFor(
  setup: FakeTargetSetup,
  options: { timeoutMs?: number; secrets?: Record<string, string> } = {},
): RedeployAdapter {
  const secrets = { ...setup.secrets, ...options.secrets };
  for (const value of Object.values(secrets)) issuedSecrets.add(value);
  const adapter = createRedeployAdapter({
    target: setup.target,
    secrets: (name) => secrets[name]!,
    fetch,
    timeoutMs: options.timeoutMs ?? 3_000,
  });
  return {
    target: adapter.target,
    plan(request) {
      const plan = adapter.plan(request);
      said.push(JSON.stringify(plan));
      return plan;
    },
    deployInProgress: () => adapter.deployInProgress(),
    async redeploy(request) {
      const outcome = await adapter.redeploy(request);
      said.push(JSON.stringify(outcome));
      return outcome;
    },
  };
}

let incident = 0;
const request = (): RedeployRequest => {
  const id = `inc-w${++incident}`;
  return { incidentId: id, reason: "connections at 92% on Cluster0", idempotencyKey: `${id}:1` };
};

describe("redeploy adapters inside workerd", () => {
  it("vercel deploy hook: started with the job id; one POST", async () => {
    const setup = await register("vercel");
    const adapter = adapterFor(setup);
    expect(adapter.plan(request()).endpoint).toBe(`vercel deploy hook (${setup.target.name})`);
    const outcome = await adapter.redeploy(request());
    expect(outcome).toMatchObject({ kind: "started", deployId: expect.stringMatching(/^[A-Za-z0-9]{20}$/) });
    expect(await callsOf(setup)).toEqual([
      expect.objectContaining({ platform: "vercel", method: "POST", status: 201, accepted: true }),
    ]);
  });

  it("railway: started; a wrong token (200 + errors) is failed; deployInProgress reads the status", async () => {
    const setup = await register("railway");
    expect(await adapterFor(setup).redeploy(request())).toMatchObject({ kind: "started" });

    const wrong = await adapterFor(setup, {
      secrets: { [setup.target.secret]: crypto.randomUUID() },
    }).redeploy(request());
    expect(wrong.kind).toBe("failed");
    expect(wrong.detail).toContain("Not Authorized");

    const adapter = adapterFor(setup);
    expect(await adapter.deployInProgress()).toBe(false);
    await control("POST", "/in-progress", { target: setup.target.name, inProgress: true });
    expect(await adapter.deployInProgress()).toBe(true);
    expect((await callsOf(setup)).map((c) => `${c.action} ${c.status}`)).toEqual([
      "redeploy 200",
      "redeploy 200",
      "deployments 200",
      "deployments 200",
    ]);
  });

  it("signed webhook: WebCrypto's HMAC verifies at the receiver; the Idempotency-Key is sent", async () => {
    const setup = await register("webhook", { signed: true });
    const req = request();
    const outcome = await adapterFor(setup).redeploy(req);
    expect(outcome).toMatchObject({ kind: "started", deployId: expect.stringMatching(/^evt_/) });
    expect(await callsOf(setup)).toEqual([
      expect.objectContaining({ status: 202, signatureValid: true, idempotencyKey: req.idempotencyKey }),
    ]);
  });

  it("a timeout after sending is unknown, and the fake saw exactly one call", async () => {
    const setup = await register("vercel");
    await failNext("vercel", "timeout", setup.target.name);
    const outcome = await adapterFor(setup, { timeoutMs: 300 }).redeploy(request());
    expect(outcome.kind).toBe("unknown");
    expect(outcome.detail).toContain("no answer within 300 ms");
    expect(await callsOf(setup)).toEqual([expect.objectContaining({ fault: "timeout", status: null })]);
  });

  // The reset fault and the refused connection below make workerd print "disconnected: client error
  // (SendRequest)" or "Connection refused", then "Uncaught (in promise) … Network connection lost.",
  // although the adapter catches the rejection: workerd logs that for any failed fetch, caught or not.
  // The outcomes asserted are the proof it was handled.
  it("a reset or a 502 is unknown; a 429 is failed with its status", async () => {
    const setup = await register("webhook", { signed: true });
    await failNext("webhook", "reset", setup.target.name);
    expect((await adapterFor(setup).redeploy(request())).kind).toBe("unknown");
    await failNext("webhook", 502, setup.target.name);
    expect((await adapterFor(setup).redeploy(request())).kind).toBe("unknown");
    await failNext("webhook", 429, setup.target.name);
    expect(await adapterFor(setup).redeploy(request())).toMatchObject({ kind: "failed", status: 429 });
    expect(await callsOf(setup)).toHaveLength(3);
  });

  it("a refused connection is unknown in workerd, which does not say whether anything was sent", async () => {
    const setup = await register("railway");
    const dead = { ...setup, target: { ...setup.target, apiBaseUrl: "http://127.0.0.1:9" } };
    const outcome = await adapterFor(dead).redeploy(request());
    // Unknown, not failed: workerd reports a refused connection exactly like a reset one.
    expect(outcome.kind).toBe("unknown");
    expect(outcome.detail).toContain("network error: Network connection lost.; the platform may have acted");
    expect(await adapterFor(dead).deployInProgress()).toBeNull();
  });

  it("no secret value is in any outcome or plan produced here", () => {
    expect(said.length).toBeGreaterThan(8);
    const text = said.join("\n");
    for (const secret of issuedSecrets) {
      expect(text).not.toContain(secret);
      if (secret.startsWith("http")) {
        const key = new URL(secret).pathname.split("/").pop()!;
        expect(text).not.toContain(key);
      }
    }
  });
});
