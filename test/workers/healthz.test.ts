/**
 * GET /healthz tells the truth about the configuration: 503 while it does not parse (no detail to
 * the caller; the keys go to the log), 200 with the version otherwise.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/schema.ts";
import { createApp } from "../../src/http/app.ts";
import { createLedgerGateway, type LedgerBindings } from "../../src/ledger/gateway.ts";
import { BASE, captureLogs } from "./support.ts";

type Bindings = LedgerBindings & Record<string, unknown>;

function appWith(overrides: Record<string, unknown>) {
  return createApp<Bindings>({
    version: "9.9.9",
    config: (e) => parseConfig({ ...e, ...overrides }),
    ledgers: (e) => createLedgerGateway(e),
  });
}

const logs = captureLogs();

describe("GET /healthz", () => {
  it("answers 200 with the version when the configuration parses", async () => {
    const response = await exports.default.fetch(new Request(`${BASE}/healthz`));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it("answers 503 without detail while the configuration does not parse, and logs the keys only", async () => {
    logs.expect("config.invalid");
    const app = appWith({ RESPONDER_MODE: "sometimes-hidden-value", ATLAS_WEBHOOK_SECRET: "" });
    const response = await app.fetch(new Request(`${BASE}/healthz`), env as unknown as Bindings);
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ ok: false, error: "configuration invalid" });
    expect(text).not.toContain("RESPONDER_MODE");
    const [line] = logs.of("config.invalid");
    expect(JSON.stringify(line)).toContain("RESPONDER_MODE");
    expect(JSON.stringify(line)).toContain("ATLAS_WEBHOOK_SECRET");
    expect(logs.written().join("\n")).not.toContain("sometimes-hidden-value");
  });

  it("a configuration only check:config refuses still answers 200 (the Worker keeps running)", async () => {
    const app = appWith({
      RESPONDER_MODE: "approve",
      ADMIN_TOKEN: "",
      SLACK_BOT_TOKEN: "",
      SLACK_CHANNEL: "",
    });
    expect(
      parseConfig({
        ...env,
        RESPONDER_MODE: "approve",
        ADMIN_TOKEN: "",
        SLACK_BOT_TOKEN: "",
        SLACK_CHANNEL: "",
      }).canApprove,
    ).toBe(false);
    const response = await app.fetch(new Request(`${BASE}/healthz`), env as unknown as Bindings);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, version: "9.9.9" });
  });
});
