/**
 * check:config's refusals and warnings beyond parsing (src/config/audit.ts): each names the key,
 * never the value; the Worker's parse accepts every configuration here.
 */
import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { checkConfig, configProblems } from "../../src/cli/check-config.ts";
import { isHookUrl, isPlaceholder } from "../../src/config/audit.ts";
import { parseConfig } from "../../src/config/schema.ts";

const GROUP = "5e5a0000000000000000abcd";
const BASE = {
  ATLAS_WEBHOOK_SECRET: "whsec-real-value-1",
  ADMIN_TOKEN: "admin-real-value-0123456",
  RESPONDER_MODE: "auto",
  MONGODB_URI: "mongodb://monitor:pw-hidden@db.example.test/",
  CLUSTERS: JSON.stringify([{ groupId: GROUP, name: "Shop", tier: "M10" }]),
};

function audit(env: Record<string, unknown>) {
  const { config, errors, warnings } = configProblems(env);
  expect(config).not.toBeNull();
  return {
    errors: errors.map((p) => p.key),
    warnings: warnings.map((p) => p.key),
    all: [...errors, ...warnings],
  };
}

function run(env: Record<string, unknown>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = checkConfig(
    env,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("approve mode needs a way to approve", () => {
  it.each([
    [{ RESPONDER_MODE: "approve", ADMIN_TOKEN: "" }, ["RESPONDER_MODE"]],
    [{ RESPONDER_MODE: "", ADMIN_TOKEN: "" }, ["RESPONDER_MODE"]],
    [
      {
        ADMIN_TOKEN: "",
        CLUSTERS: JSON.stringify([{ groupId: GROUP, name: "Shop", mode: "approve" }]),
      },
      ["CLUSTERS[0].mode"],
    ],
    [
      { RESPONDER_MODE: "approve", ADMIN_TOKEN: "", SLACK_BOT_TOKEN: "xoxb-real", SLACK_CHANNEL: "C9" },
      ["RESPONDER_MODE"],
    ],
  ])("%j is refused", (env, keys) => {
    const result = run({ ...BASE, ...env });
    expect(result.code).toBe(2);
    expect(audit({ ...BASE, ...env }).errors).toEqual(keys);
    expect(result.err).toContain("nothing can approve");
  });

  it.each([
    [{ RESPONDER_MODE: "approve" }],
    [
      {
        RESPONDER_MODE: "approve",
        ADMIN_TOKEN: "",
        SLACK_BOT_TOKEN: "xoxb-real",
        SLACK_CHANNEL: "C9",
        SLACK_SIGNING_SECRET: "signing-real",
      },
    ],
  ])("%j passes", (env) => {
    expect(run({ ...BASE, ...env }).code).toBe(0);
  });

  it("the Worker's parse accepts what check:config refuses", () => {
    expect(() => parseConfig({ ...BASE, RESPONDER_MODE: "approve", ADMIN_TOKEN: "" })).not.toThrow();
  });
});

describe("deploy hook secrets must be URLs", () => {
  const target = (kind: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify([{ kind, name: "web", secret: "HOOK_WEB", ...extra }]);

  it.each(["vercel", "netlify", "webhook", "render"])(
    "%s with a secret that is not a URL is refused",
    (kind) => {
      const env = { ...BASE, TARGETS: target(kind), HOOK_WEB: "not-a-url-hidden" };
      const result = run(env);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(/HOOK_WEB: \(TARGETS\[0\]\.secret, \w+\) must be the deploy hook URL/);
      expect(result.err).not.toContain("hidden");
    },
  );

  it("http to a remote host is refused; http to loopback and https pass", () => {
    expect(run({ ...BASE, TARGETS: target("vercel"), HOOK_WEB: "http://hooks.example.test/x" }).code).toBe(2);
    expect(run({ ...BASE, TARGETS: target("vercel"), HOOK_WEB: "http://127.0.0.1:9999/x" }).code).toBe(0);
    expect(run({ ...BASE, TARGETS: target("vercel"), HOOK_WEB: "https://hooks.example.test/x" }).code).toBe(
      0,
    );
  });

  it("render with a serviceId holds an API key, not a URL", () => {
    const env = { ...BASE, TARGETS: target("render", { serviceId: "srv-123" }), HOOK_WEB: "rnd_apikey" };
    expect(run(env).code).toBe(0);
  });

  it("isHookUrl", () => {
    expect(isHookUrl("https://x.test/a")).toBe(true);
    expect(isHookUrl("http://localhost:1/a")).toBe(true);
    expect(isHookUrl("http://[::1]:1/a")).toBe(true);
    expect(isHookUrl("http://10.0.0.1/a")).toBe(false);
    expect(isHookUrl("ftp://x.test/a")).toBe(false);
    expect(isHookUrl("hook")).toBe(false);
  });
});

describe("values left from .dev.vars.example", () => {
  const example = readFileSync(new URL("../../.dev.vars.example", import.meta.url), "utf8");
  // Every value in the example, commented out or not.
  const values = parseEnv(example.replace(/^# ?(?=[A-Z][A-Z0-9_]*=)/gm, ""));

  it("every value .dev.vars.example ships is recognised as a placeholder", () => {
    expect(Object.keys(values).length).toBeGreaterThanOrEqual(10);
    for (const [key, value] of Object.entries(values))
      expect([key, isPlaceholder(String(value))]).toEqual([key, true]);
  });

  it("real-looking values are not", () => {
    for (const value of ["whsec-real-value-1", "mongodb://db.example.test/", "C07ABCDEF12", "xoxb-123-456"])
      expect(isPlaceholder(value)).toBe(false);
  });

  it("copying the example as is is refused, naming each key and no value", () => {
    const env = { ...values, RESPONDER_MODE: "auto", SLACK_WEBHOOK_URL: "" };
    delete (env as Record<string, string>).SLACK_WEBHOOK_URL;
    const result = run(env);
    expect(result.code).toBe(2);
    for (const key of [
      "ATLAS_WEBHOOK_SECRET",
      "ADMIN_TOKEN",
      "ATLAS_CLIENT_ID",
      "SLACK_BOT_TOKEN",
      "SLACK_CHANNEL",
    ])
      expect(result.err).toContain(`${key}: still holds the placeholder from .dev.vars.example`);
    expect(result.err).not.toContain("replace-with");
  });

  it("a TARGETS secret left as the example's hook is refused", () => {
    const env = {
      ...BASE,
      TARGETS: JSON.stringify([{ kind: "vercel", name: "web", secret: "VERCEL_HOOK_WEB" }]),
      VERCEL_HOOK_WEB: values.VERCEL_HOOK_WEB,
    };
    expect(audit(env).errors).toEqual(["VERCEL_HOOK_WEB"]);
  });
});

describe("warnings (exit 0)", () => {
  it("a target naming a cluster CLUSTERS does not name", () => {
    const env = {
      ...BASE,
      TARGETS: JSON.stringify([
        { kind: "vercel", name: "web", secret: "HOOK_WEB", clusters: ["Shop", "Shpo"] },
      ]),
      HOOK_WEB: "https://hooks.example.test/x",
    };
    expect(audit(env)).toMatchObject({ errors: [], warnings: ["TARGETS[0].clusters[1]"] });
    const result = run(env);
    expect(result.code).toBe(0);
    expect(result.out).toContain("warning: TARGETS[0].clusters[1]: names a cluster no CLUSTERS entry names");
  });

  it("no warning about target clusters when CLUSTERS is not set", () => {
    const env = {
      ...BASE,
      CLUSTERS: "",
      TARGETS: JSON.stringify([{ kind: "vercel", name: "web", secret: "HOOK_WEB", clusters: ["Any"] }]),
      HOOK_WEB: "https://hooks.example.test/x",
    };
    expect(audit(env).warnings).toEqual(["CLUSTERS"]);
  });

  it("an unknown tier", () => {
    const env = { ...BASE, CLUSTERS: JSON.stringify([{ groupId: GROUP, name: "Shop", tier: "M7" }]) };
    expect(audit(env)).toMatchObject({ errors: [], warnings: ["CLUSTERS[0].tier"] });
    expect(
      audit({ ...BASE, CLUSTERS: JSON.stringify([{ groupId: GROUP, name: "Shop", tier: "flex" }]) }).warnings,
    ).toEqual([]);
  });

  it("no CLUSTERS entry the cron watch can read", () => {
    expect(audit({ ...BASE, MONGODB_URI: "" }).warnings).toEqual(["CLUSTERS"]);
    expect(audit({ ...BASE, CLUSTERS: "" }).warnings).toEqual(["CLUSTERS"]);
    expect(
      audit({
        ...BASE,
        MONGODB_URI: "",
        ATLAS_CLIENT_ID: "mdb_sa_id_real",
        ATLAS_CLIENT_SECRET: "mdb_sa_sk_real",
      }).warnings,
    ).toEqual([]);
    const result = run({ ...BASE, MONGODB_URI: "" });
    expect(result.code).toBe(0);
    expect(result.out).toContain("charts stay empty");
  });

  it("a clean configuration has neither", () => {
    expect(audit(BASE)).toMatchObject({ errors: [], warnings: [] });
  });

  it("no problem or warning ever carries a value", () => {
    const env = { ...BASE, RESPONDER_MODE: "approve", ADMIN_TOKEN: "", MONGODB_URI: "" };
    const { all } = audit(env);
    expect(all.length).toBeGreaterThan(0);
    expect(JSON.stringify(all)).not.toContain("real-value");
  });
});
